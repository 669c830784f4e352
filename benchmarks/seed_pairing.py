"""Seeds and pairing: should a baseline and a candidate share sample seeds, and be paired?

On a local model a sample's seed fixes its random numbers, so when two models draw sample i with
the same seed their outcomes are correlated (inverse-CDF sampling of similar distributions from
the same uniforms); on a hosted API a seed does little. The comparison's exact test assumes the
two samples independent. Three designs, simulated with outcomes correlated through shared
uniforms (a share ``rho`` of the candidate's samples reuse the baseline's uniform, or its
complement for a negative ``rho``):

* independent: each model draws its own seeds (what promptcheck does), unpaired exact test;
* shared, unpaired: the same seeds on both models, the same unpaired exact test (what it did);
* shared, paired: the same seeds, and the exact conditional test of the discordant pairs
  (McNemar's, one-sided: under "no drop" a pair in which only the baseline conforms is at most
  as likely as one in which only the candidate does), on the pairs both models drew.

Per case, at the levels a 50-case suite works at: the false-alarm rate with nothing changed at
level 0.05 (one case) and the power against 0.95 -> 0.80 at alpha / 50 = 0.001, for a live
baseline (both models draw n) and a stored 400-sample baseline (the candidate draws n; only n
pairs exist). The exact tests' decisions come from ``stats.power.rejection_cuts``.

Usage: python benchmarks/seed_pairing.py [--runs 20000] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from numpy.typing import NDArray
from scipy.stats import binom

from promptcheck.stats.power import rejection_cuts

Bools = NDArray[np.bool_]


def outcomes(
    rng: np.random.Generator,
    p_base: float,
    p_cand: float,
    n_base: int,
    n_cand: int,
    rho: float,
    runs: int,
) -> tuple[Bools, Bools]:
    """Conforming flags (runs x samples) of both models; candidate sample i shares baseline
    sample i's uniform with probability |rho| (its complement when rho < 0)."""
    u_base = rng.random((runs, n_base))
    own = rng.random((runs, n_cand))
    shared = u_base[:, :n_cand] if rho >= 0 else 1.0 - u_base[:, :n_cand]
    coupled = rng.random((runs, n_cand)) < abs(rho)
    u_cand = np.where(coupled, shared, own)
    return u_base < p_base, u_cand < p_cand


def unpaired(base: Bools, cand: Bools, level: float) -> NDArray[np.bool_]:
    """The exact unconditional test of a drop on the counts alone."""
    k_b, k_c = base.sum(axis=1), cand.sum(axis=1)
    cuts = rejection_cuts(base.shape[1], cand.shape[1], 0.0, level)
    rejected: NDArray[np.bool_] = k_c <= cuts[k_b]
    return rejected


def paired(base: Bools, cand: Bools, level: float) -> NDArray[np.bool_]:
    """McNemar's exact one-sided test on the pairs both drew: rejects when the pairs where
    only the baseline conforms are too many among the discordant ones."""
    n = cand.shape[1]
    only_base = (base[:, :n] & ~cand).sum(axis=1)
    only_cand = (~base[:, :n] & cand).sum(axis=1)
    discordant = only_base + only_cand
    pvalue = binom.sf(only_base - 1, discordant, 0.5)
    rejected: NDArray[np.bool_] = (discordant > 0) & (pvalue <= level)
    return rejected


def rates(
    rng: np.random.Generator, runs: int, n_base: int, n_cand: int, rho: float, rate: float
) -> list[float]:
    """False alarms at 0.05 and power at 0.001 (a drop of 0.15), for the three designs."""
    found = []
    for p_cand, level in ((rate, 0.05), (rate - 0.15, 0.001)):
        indep = outcomes(rng, rate, p_cand, n_base, n_cand, 0.0, runs)
        shared = outcomes(rng, rate, p_cand, n_base, n_cand, rho, runs)
        found += [
            float(unpaired(*indep, level).mean()),
            float(unpaired(*shared, level).mean()),
            float(paired(*shared, level).mean()),
        ]
    return found


def correlation(rng: np.random.Generator, rho: float, rate: float, runs: int = 200_000) -> float:
    """The outcome correlation (phi) that a share rho of shared uniforms gives, no change."""
    base, cand = outcomes(rng, rate, rate, 1, 1, rho, runs)
    return float(np.corrcoef(base[:, 0], cand[:, 0])[0, 1])


def table(rng: np.random.Generator, runs: int, n_base: int, n_cand: int, rate: float) -> list[str]:
    rows = [
        "| shared uniforms (phi) | false alarm at 0.05: independent / shared / paired | "
        "power at 0.001: independent / shared / paired |",
        "|---|---|---|",
    ]
    for rho in (-0.9, -0.5, 0.0, 0.3, 0.6, 0.9):
        cells = rates(rng, runs, n_base, n_cand, rho, rate)
        phi = correlation(rng, rho, rate)
        rows.append(
            f"| {rho:g} ({phi:+.2f}) | "
            + " / ".join(f"{value:.3f}" for value in cells[:3])
            + " | "
            + " / ".join(f"{value:.3f}" for value in cells[3:])
            + " |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20_000, help="simulated cases per cell")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    print(f"{args.runs} simulated cases per cell, seed {args.seed}; drops of 0.15")
    for title, n_base, n_cand, rate in (
        ("Live baseline, 150 samples a model, rate 0.95", 150, 150, 0.95),
        ("Stored baseline of 400, candidate 90 (90 pairs), rate 0.95", 400, 90, 0.95),
        ("Live baseline, 350 samples a model, rate 0.6", 350, 350, 0.6),
    ):
        print(f"\n{title}:")
        print("\n".join(table(rng, args.runs, n_base, n_cand, rate)))
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
