"""``python -m promptcheck.cli``: the ``promptcheck`` command without its console script."""

import sys

from promptcheck.cli import main

sys.exit(main())
