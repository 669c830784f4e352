"""A module of the project's own that imports the standard library, as most modules do."""

import json  # noqa: F401  (the attack walks through it)


def conforms(output: str) -> bool:
    return bool(output)
