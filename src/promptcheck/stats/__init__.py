"""The statistics behind every verdict: pure functions and records, no I/O, no models.

* :mod:`~promptcheck.stats.threshold`: does a case meet its threshold (exact binomial bounds)?
* :mod:`~promptcheck.stats.two_sample`: did a case's rate drop from baseline to candidate (exact
  unconditional tests, Newcombe intervals)?
* :mod:`~promptcheck.stats.multiplicity`: which cases of a suite changed, with false alarms
  controlled across all of them (Holm, Benjamini-Hochberg)?
* :mod:`~promptcheck.stats.sequential`: when may adaptive sampling stop (anytime-valid monitors)?
* :mod:`~promptcheck.stats.stopped`: what do counts that adaptive sampling stopped show, read
  after the fact?
* :mod:`~promptcheck.stats.power`: how many samples catch a drop, and which drop a budget
  catches (exact power of the regression test)?
* :mod:`~promptcheck.stats.betainc`: the incomplete beta function the bounds are made of.

numpy and scipy are imported inside the functions that need them.
"""

from promptcheck.stats.multiplicity import (
    CRITICAL_TAG,
    CaseChange,
    Change,
    benjamini_hochberg,
    critical_cases,
    decide,
    holm,
    suite_adjust,
)
from promptcheck.stats.power import (
    Plan,
    detectable_drop,
    first_rejection_level,
    plan_budget,
    regression_power,
)
from promptcheck.stats.sequential import (
    ComparisonMonitor,
    Decision,
    ThresholdMonitor,
    confidence_sequence,
)
from promptcheck.stats.stopped import stopped_comparison
from promptcheck.stats.threshold import (
    Outcome,
    ThresholdVerdict,
    clopper_pearson,
    lower_bound,
    threshold_verdict,
    upper_bound,
)
from promptcheck.stats.two_sample import (
    Comparison,
    compare_rates,
    exact_pvalue,
    newcombe_interval,
    wilson_interval,
)

__all__ = [
    "CRITICAL_TAG",
    "CaseChange",
    "Change",
    "Comparison",
    "ComparisonMonitor",
    "Decision",
    "Outcome",
    "Plan",
    "ThresholdMonitor",
    "ThresholdVerdict",
    "benjamini_hochberg",
    "clopper_pearson",
    "compare_rates",
    "confidence_sequence",
    "critical_cases",
    "decide",
    "detectable_drop",
    "exact_pvalue",
    "first_rejection_level",
    "holm",
    "lower_bound",
    "newcombe_interval",
    "plan_budget",
    "regression_power",
    "stopped_comparison",
    "suite_adjust",
    "threshold_verdict",
    "upper_bound",
    "wilson_interval",
]
