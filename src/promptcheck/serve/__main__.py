"""``python -m promptcheck.serve DIR``: ``promptcheck serve`` without the CLI wrapper."""

import sys

from promptcheck.serve.commands import main

sys.exit(main())
