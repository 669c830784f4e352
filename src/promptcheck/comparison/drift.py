"""Whether a hosted model's name now serves another model than the samples it is set against.

A configured name (``gpt-4o``, an Azure deployment) is an alias the provider may point at a new
snapshot at any time. Two things then go quietly wrong: a comparison with a stored baseline
measures the provider's change as if it were the suite's, and a re-run reuses cached samples
of a model the name no longer serves. The backends record what each response said served it
(:class:`~promptcheck.results.ServedCount`, per case); this module says when that changed.

The rule tolerates what is normal: a served model id is a change only when a new one appears
(a baseline drawn across two snapshots covers both), and a fingerprint only when the new
fingerprints share none with the old, because a provider may answer one model from several
deployments with different fingerprints at the same time. Samples that report nothing (local
backends, whose weights' digest is in every cache key; runs recorded before this) never warn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptcheck.redaction import redact_secrets
from promptcheck.results import CaseResult, ServedCount

#: What every warning ends with: the way to draw the samples again from what the name serves now.
FRESH_HINT = "--promptcheck-fresh"
#: How a comparison's drift warning ends, which tells it from the report's other warnings.
BASELINE_ADVICE = f"record the baseline again with {FRESH_HINT}"


@dataclass(frozen=True)
class Served:
    """The distinct model ids and fingerprints some samples were served by."""

    models: frozenset[str] = frozenset()
    fingerprints: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls, counts: Iterable[ServedCount], *, fresh: bool = True, cached: bool = True
    ) -> Served:
        """The identities of the samples drawn now (``fresh``) and/or reused (``cached``)."""
        chosen = [c for c in counts if (fresh and c.fresh) or (cached and c.cached)]
        return cls(
            frozenset(c.model for c in chosen if c.model is not None),
            frozenset(c.fingerprint for c in chosen if c.fingerprint is not None),
        )

    @property
    def known(self) -> bool:
        return bool(self.models or self.fingerprints)


def change(before: Served, now: Served) -> str | None:
    """How ``now`` differs from ``before`` by the rule above, in words; None when it does not."""
    added = now.models - before.models
    if before.models and added:
        return f"is served by {_names(added)}, not {_names(before.models)}"
    if before.fingerprints and now.fingerprints and not before.fingerprints & now.fingerprints:
        return (
            f"answers with system fingerprint {_names(now.fingerprints)}, not "
            f"{_names(before.fingerprints)}"
        )
    return None


def baseline_drift(
    baseline_model: str,
    baseline_spec: Mapping[str, Any],
    baseline_cases: Sequence[CaseResult],
    candidate_model: str,
    candidate_spec: Mapping[str, Any],
    candidate_cases: Sequence[CaseResult],
) -> str | None:
    """A comparison's warning when both runs name the same model, configured the same way, and
    the candidate's fresh samples were served by another model or fingerprint than the
    baseline's samples.

    A pull request that points the name at another model (a new ``model`` in its spec) is what
    the comparison measures, not drift. Only fresh samples say what the name serves now: the
    candidate's cached ones may be the very samples the baseline drew.
    """
    if baseline_model != candidate_model or not same_spec(baseline_spec, candidate_spec):
        return None
    before = Served.of(count for case in baseline_cases for count in case.served)
    now = Served.of((count for case in candidate_cases for count in case.served), cached=False)
    found = change(before, now)
    if found is None:
        return None
    return (
        f"model {candidate_model!r} {found} as in the baseline's samples: the comparison may "
        f"measure the provider's change rather than the suite's; {BASELINE_ADVICE}"
    )


def is_baseline_drift(warning: str) -> bool:
    """Whether a comparison report's warning is :func:`baseline_drift`'s."""
    return warning.endswith(BASELINE_ADVICE)


def same_spec(first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    """Whether two model specs configure the same model. A stored spec has its secrets
    redacted, so both are compared redacted: a rotated API key is the same model."""
    return bool(redact_secrets(dict(first)) == redact_secrets(dict(second)))


def cache_drift(served: Mapping[str, Sequence[ServedCount]]) -> list[str]:
    """A re-run's warnings: per model name, when the samples drawn now were served by another
    model or fingerprint than the cached samples it reused. A run drawn entirely from the cache
    sends no request, so it cannot tell (the docs say so)."""
    warnings = []
    for model, counts in sorted(served.items()):
        before = Served.of(counts, fresh=False)
        now = Served.of(counts, cached=False)
        found = change(before, now)
        if found is None:
            continue
        reused = sum(count.cached for count in counts)
        warnings.append(
            f"model {model!r} {found} as in the {reused} cached sample(s) this run reused: "
            f"they may no longer be what the model answers; run again with {FRESH_HINT}"
        )
    return warnings


def _names(values: Iterable[str]) -> str:
    shown = sorted(values)
    listed = ", ".join(repr(value) for value in shown[:3])
    return listed + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")
