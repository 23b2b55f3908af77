"""Calibration: the engine's own decision code driven with synthetic seeds of known truth.

A case is a claim's check with `cells` cells whose seeds' margins are drawn from a known law (true mean
`mu`, in units of the seeds' sd). One replication plays what a sweep with adaptive seeds does: every
cell starts with `first` seeds; each round the cells are decided exactly as nnscratch.claims decides
them (stats.crossing -> claims.cell_codes -> claims.check_decisions, with Holm across cells), and every
cell still open gets the seeds nnscratch.run.adaptive.round_target gives it (from stats.seeds_to_cross, as
claims.seeds_needed does), until nothing is open or every open cell has max_seeds. Replications are
rows of arrays, so 100,000 of them run in seconds; each margin path is drawn once in full and a cell
with n seeds sees its first n, as a cell sees seeds 0..n-1.

Beside it, the old rule (before issue 23): a Student-t interval at the current n, a cell with zero
spread decided by its value, no Holm, no split, seeds added by its own estimate. Nothing imports this
module but experiments/calibrate.py and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as st

from nnscratch.claims import DECISIONS, FAILS, HOLDS, OPEN, cell_codes, check_decisions
from nnscratch.run.adaptive import round_target
from nnscratch.stats import Boundary, Crossing, clopper_pearson, crossing, seeds_to_cross

OPEN_CODES = [k for k, v in DECISIONS.items() if v in OPEN]


@dataclass(frozen=True)
class Case:
    """A synthetic check: `cells` cells, margins of law `law` with mean `mu` (sd units).

    law: normal; mixture (a seed collapses with probability `collapse`: margin -0.6, else +0.05, both
    with sd 0.02 — the mean is then on the failing side); t3 (Student t, 3 df, scaled to sd 1);
    empirical (seeds drawn with replacement from `values`, centred so that their mean is `mu`).
    step: 0 = the adaptive rule's own steps; 1 = one seed per round (as if resumed after every seed)."""

    name: str
    law: str = "normal"
    mu: float = 0.0
    cells: int = 1
    collapse: float = 0.0
    step: int = 0
    values: tuple[float, ...] = ()

    @property
    def truth(self) -> int:
        """The right decision: HOLDS, FAILS, or 0 where no decision is right (mean exactly 0)."""
        mean = self.collapse * -0.6 + (1 - self.collapse) * 0.05 if self.law == "mixture" else self.mu
        return int(np.sign(mean))


def draw(case: Case, reps: int, last: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(margins (reps * cells, last), collapsed (same shape, bool)) of one case."""
    shape = (reps * case.cells, last)
    if case.law == "normal":
        return case.mu + rng.standard_normal(shape), np.zeros(shape, bool)
    if case.law == "t3":
        return case.mu + rng.standard_t(3, shape) / np.sqrt(3.0), np.zeros(shape, bool)
    if case.law == "mixture":
        collapsed = rng.random(shape) < case.collapse
        return np.where(collapsed, -0.6, 0.05) + 0.02 * rng.standard_normal(shape), collapsed
    if case.law == "empirical":
        values = np.asarray(case.values, float)
        return rng.choice(values - values.mean() + case.mu, shape), np.zeros(shape, bool)
    raise ValueError(f"calibration: unknown law {case.law!r} (allowed: normal, t3, mixture, empirical)")


@dataclass
class Paths:
    """One case's replications, each cell's seeds drawn once in full (R = reps * cells rows, `last` seeds),
    with what every prefix gives: the engine's boundary crossing, split, running mean and sd."""

    margins: np.ndarray
    collapsed: np.ndarray
    cross: Crossing
    split: np.ndarray
    mean: np.ndarray
    sd: np.ndarray


def paths(margins: np.ndarray, collapsed: np.ndarray, boundary: Boundary) -> Paths:
    split = np.logical_or.accumulate(collapsed, 1) & ~np.logical_and.accumulate(collapsed, 1)
    return Paths(margins, collapsed, crossing(margins, boundary), split, *prefix_mean_sd(margins))


def prefix_mean_sd(margins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, last) -> running mean and sd (ddof 1; NaN at one seed) of the first n seeds, both (R, last)."""
    n = np.arange(1, margins.shape[1] + 1)
    mean = np.cumsum(margins, axis=1) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (np.cumsum(margins**2, axis=1) - n * mean**2) / (n - 1)
    return mean, np.sqrt(np.maximum(var, 0))


def at(table: np.ndarray, n: np.ndarray) -> np.ndarray:
    """table (R, last) read at each row's seed count n (R,)."""
    return np.take_along_axis(table, (n - 1)[:, None], 1)[:, 0]


def new_rule(case: Case, p: Paths, boundary: Boundary, max_seeds: int, first: int):
    """Rounds of the engine's rule on every replication at once: (final codes (R, cells), seeds (R, cells))."""
    n = np.full(len(p.margins), first)
    while True:
        codes = cell_codes(at(p.cross.direction, n), at(p.split, n)).reshape(-1, case.cells)
        final = check_decisions(codes, at(p.cross.p, n).reshape(-1, case.cells), boundary.level).ravel()
        grow = np.isin(final, OPEN_CODES) & (n < max_seeds)
        if not grow.any():
            return final.reshape(-1, case.cells), n.reshape(-1, case.cells)
        needed = seeds_to_cross(at(p.mean, n)[grow], at(p.sd, n)[grow], n[grow], boundary)
        target = n[grow] + 1 if case.step else round_target(n[grow], needed, max_seeds, boundary.looks).astype(int)
        n[grow] = np.minimum(target, max_seeds)


def old_rule(case: Case, p: Paths, level: float, max_seeds: int, first: int):
    """The rule before issue 23 (t interval at each n, zero spread decided by value, its seeds estimate)."""
    looks, every = np.arange(2, max_seeds + 1), tuple(range(first, max_seeds + 1))  # it looked at every n
    q = st.t.ppf((1 + level) / 2, np.maximum(np.arange(0, max_seeds + 1) - 1, 1))  # by n
    n = np.full(len(p.margins), first)
    while True:
        m, s = at(p.mean, n), at(p.sd, n)
        half = q[n] * s / np.sqrt(n)
        code = np.where(m - half > 0, HOLDS, np.where(m + half < 0, FAILS, 0))
        grow = (code == 0) & (n < max_seeds)
        if not grow.any():
            return code.reshape(-1, case.cells), n.reshape(-1, case.cells)
        with np.errstate(divide="ignore", invalid="ignore"):
            ok = (q[looks][None, :] * s[grow, None] / np.sqrt(looks)[None, :]) < np.abs(m[grow, None])
        needed = np.where(ok.any(1) & (m[grow] != 0), looks[ok.argmax(1)], np.nan)
        target = n[grow] + 1 if case.step else round_target(n[grow], needed, max_seeds, every).astype(int)
        n[grow] = np.minimum(target, max_seeds)


def summary(case: Case, codes: np.ndarray, seeds: np.ndarray, collapsed: np.ndarray, level: float) -> dict:
    """One row of the table: P(decision), P(wrong side), mean seeds, P(holds), and for collapse
    mixtures the coverage of the stated failure-rate range."""
    decided = np.isin(codes, (HOLDS, FAILS))
    wrong = decided & (codes != case.truth) if case.truth else decided
    row = {
        "P(decision)": decided.any(1).mean(),
        "P(wrong side)": wrong.any(1).mean(),
        "P(right)": (codes == case.truth).all(1).mean() if case.truth else np.nan,
        "P(holds)": (codes == HOLDS).any(1).mean(),
        "mean seeds": seeds.mean(),
    }
    if case.law == "mixture":
        n = seeds.ravel()
        low, high = clopper_pearson(at(np.cumsum(collapsed, 1), n), n, level)
        row["rate in range"] = ((low <= case.collapse) & (case.collapse <= high)).mean()
    return row


def real_cases(values: np.ndarray, measure: str) -> list[Case]:
    """Cases whose seeds are resampled from one real cell's `values` (n,): the threshold at their mean
    (no decision is right) and 1.4 of their sd below it (holds is right)."""
    sd = float(np.std(values, ddof=1))
    name = f"real: {measure} of {len(values)} seeds (mean {np.mean(values):.4f}, sd {sd:.4f})"
    return [
        Case(f"{name}, threshold at the mean", law="empirical", values=tuple(values)),
        Case(f"{name}, threshold 1.4 sd below", law="empirical", values=tuple(values), mu=1.4 * sd),
    ]


def calibrate(
    cases: list[Case], boundary: Boundary, max_seeds: list[int], reps: int, seed: int, first: int
) -> pd.DataFrame:
    """Both rules on every case and max_seeds, `reps` replications each (seeded): one row per
    (case, max_seeds, rule)."""
    rows = []
    for i, case in enumerate(cases):
        p = paths(*draw(case, reps, boundary.last, np.random.default_rng([seed, i])), boundary)
        for cap in max_seeds:
            new = summary(case, *new_rule(case, p, boundary, cap, first), p.collapsed, boundary.level)
            old = summary(case, *old_rule(case, p, boundary.level, cap, first), p.collapsed, boundary.level)
            rows.append({"case": case.name, "max_seeds": cap, "rule": "sequential (new)"} | new)
            rows.append({"case": case.name, "max_seeds": cap, "rule": "t interval (old)"} | old)
    return pd.DataFrame(rows)
