"""Sampling cases: plans and seeds, the cache, concurrency, retries, scoring and judges' access.

:mod:`~promptcheck.run.runner` draws samples (:mod:`~promptcheck.run.planning` says which) and
scores them (:mod:`~promptcheck.run.scoring`); :mod:`~promptcheck.run.model_access` lets judging
checks ask models through the same pool, cache and retries; :mod:`~promptcheck.run.agreement`
measures how far each judge agrees with the format checks; :mod:`~promptcheck.run.jobs` holds the
records passed in and out.
"""

from promptcheck.run.jobs import CaseJob, CaseRef, ComparedCase, ComparisonJob, SampledCase
from promptcheck.run.runner import BackendPool, Runner, generate_with_retries

__all__ = [
    "BackendPool",
    "CaseJob",
    "CaseRef",
    "ComparedCase",
    "ComparisonJob",
    "Runner",
    "SampledCase",
    "generate_with_retries",
]
