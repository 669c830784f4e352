"""Baseline against candidate: which cases did the new model break?

:mod:`~promptcheck.comparison.engine` compares two runs' cases and decides them across the suite
(the statistics are :mod:`promptcheck.stats`'); :mod:`~promptcheck.comparison.live` is the
``--promptcheck-baseline`` gate of a pytest session, built on the same engine;
:mod:`~promptcheck.comparison.pairwise` asks a judge which of two outputs is better.
"""

from promptcheck.comparison.engine import (
    CaseRow,
    CompareSettings,
    ComparisonReport,
    case_name,
    compare_results,
)
from promptcheck.comparison.live import (
    Baseline,
    ComparisonContext,
    LiveComparison,
    judge_report,
    resolve_judge,
    row_for,
)
from promptcheck.comparison.pairwise import PairwiseCheck, PairwiseParams, pairwise_params

__all__ = [
    "Baseline",
    "CaseRow",
    "CompareSettings",
    "ComparisonContext",
    "ComparisonReport",
    "LiveComparison",
    "PairwiseCheck",
    "PairwiseParams",
    "case_name",
    "compare_results",
    "judge_report",
    "pairwise_params",
    "resolve_judge",
    "row_for",
]
