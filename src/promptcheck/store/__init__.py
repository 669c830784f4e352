"""The run store: one SQLite file of runs, cases, samples, check results and the generation cache.

:mod:`~promptcheck.store.database` reads and writes it; :mod:`~promptcheck.store.schema` holds its
numbered migrations; :mod:`~promptcheck.store.usage` adds up what each run's model cost;
:mod:`~promptcheck.store.provenance` says where a run came from (commit, versions);
:mod:`~promptcheck.store.texts` keeps each output once, cut to a cap, and each prompt once.
"""

from promptcheck.store.database import (
    REDACTED,
    RunInfo,
    RunStatus,
    RunSummary,
    Store,
    redact_secrets,
)
from promptcheck.store.usage import describe, usage_lines

__all__ = [
    "REDACTED",
    "RunInfo",
    "RunStatus",
    "RunSummary",
    "Store",
    "describe",
    "redact_secrets",
    "usage_lines",
]
