"""``promptcheck adapt``: rewrite the prompts a model change broke, with statistics kept honest.

:class:`~promptcheck.adapt.engine.Adapter` diagnoses a suite on a candidate against a baseline
(the gate's own comparison), tries rewrites of each regressed case's prompt (deterministic
operators, an optimizer model), races them on search values and confirms the winner on held-out
values (:mod:`promptcheck.stats.racing`); :mod:`~promptcheck.adapt.patches` writes the result
into a copy of the suite. docs/adapt.md explains the method and its error rates.
"""

from promptcheck.adapt.engine import AdaptContext, Adapter
from promptcheck.adapt.patches import patch_suite, unified_diff
from promptcheck.adapt.records import AdaptReport, CaseAdaptation, Trial
from promptcheck.adapt.settings import AdaptSettings

__all__ = [
    "AdaptContext",
    "AdaptReport",
    "AdaptSettings",
    "Adapter",
    "CaseAdaptation",
    "Trial",
    "patch_suite",
    "unified_diff",
]
