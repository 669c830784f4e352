"""A suite file, from YAML text to compiled cases that the runner can sample.

:mod:`~promptcheck.yamlsource` reads YAML safely and maps every key to its line;
:mod:`~promptcheck.suite.format` holds the pydantic models of the format;
:mod:`~promptcheck.suite.variables` expands variables; :mod:`~promptcheck.suite.judges` checks the
models and variables that judging checks name; :mod:`~promptcheck.suite.loader` compiles all of it
into the records of :mod:`~promptcheck.suite.records`; :mod:`~promptcheck.suite.schema` exports the
JSON Schema editors use. Every problem is a SuiteError naming file, line and key.
"""

from promptcheck.suite.loader import (
    find_model,
    is_suite_file,
    load_suite,
    model_named,
    resolve_model,
    stored_suite_path,
    suites_under,
)
from promptcheck.suite.records import CaseSpec, Combination, CompiledCheck, ModelConfig, SuiteSpec

__all__ = [
    "CaseSpec",
    "Combination",
    "CompiledCheck",
    "ModelConfig",
    "SuiteSpec",
    "find_model",
    "is_suite_file",
    "load_suite",
    "model_named",
    "resolve_model",
    "stored_suite_path",
    "suites_under",
]
