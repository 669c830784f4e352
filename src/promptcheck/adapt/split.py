"""The search / held-out split of a case's variable combinations.

Rewrites are chosen on the search part and confirmed on the held-out part, whose values the
choice never saw. The split is a seeded shuffle of the combinations (the seed, the suite and
the case decide it), so a re-run splits the same way and finds its samples in the cache. A case
with a single combination cannot hold a value out: it is searched and confirmed on that value
with new seeds, and the report says so.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from promptcheck.suite.records import CaseSpec, Combination


@dataclass(frozen=True, slots=True)
class Split:
    """The combinations of each part; ``shared`` when there was only one to split."""

    search: tuple[Combination, ...]
    held_out: tuple[Combination, ...]
    shared: bool = False


def split_sizes(combinations: int, held_out_share: float) -> tuple[int, int]:
    """(search, held-out) counts: at least one each from two combinations on."""
    if combinations < 2:
        return combinations, 0
    held = min(max(1, math.floor(combinations * held_out_share + 0.5)), combinations - 1)
    return combinations - held, held


def split_combinations(case: CaseSpec, held_out_share: float, seed: int) -> Split:
    """The case's combinations split at random (seeded), each part in the case's order."""
    combinations: Sequence[Combination] = case.combinations
    _, held_size = split_sizes(len(combinations), held_out_share)
    if held_size == 0:
        return Split(tuple(combinations), tuple(combinations), shared=True)
    key = f"adapt-split\0{seed}\0{case.seed}\0{case.suite}\0{case.id}".encode()
    rng = random.Random(hashlib.sha256(key).hexdigest())
    order = list(range(len(combinations)))
    rng.shuffle(order)
    held = set(order[:held_size])
    return Split(
        tuple(c for i, c in enumerate(combinations) if i not in held),
        tuple(c for i, c in enumerate(combinations) if i in held),
    )


def confirmation_seed(case: CaseSpec) -> int:
    """A seed root for the held-out samples, apart from the case's own: the confirmation draws
    new samples even of a combination the diagnosis already drew."""
    digest = hashlib.blake2b(f"adapt-confirm\0{case.seed}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFF_FFFF_FFFF_FFFF
