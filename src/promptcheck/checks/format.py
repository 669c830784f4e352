"""The built-in format checks, registered by importing the modules that define them.

``CHECKS`` imports this module the first time a check is looked up, so adding a module of built-in
checks means adding it here.
"""

from promptcheck.checks import lengths, options, python_check, structured, text, tools

__all__ = ["lengths", "options", "python_check", "structured", "text", "tools"]
