"""Calibration: the engine's own decision code driven with synthetic seeds of known law.

A case is a claim's check with `cells` cells whose seeds' margins follow a known law (LAWS: normal, t, a
rare-failure law, -Gamma and -lognormal of skewness -2.4, 1 % outliers at -6 sd, a 90/10 collapse mixture,
or a real cell's seeds resampled), placed so that a chosen quantity (its median, its mean, or neither)
sits `mu` sds from the threshold. One replication plays what a sweep with adaptive seeds does: every cell
starts with the grid's seeds; each round the cells are decided exactly as nnscratch.claims decides them
(passes -> stats.binomial_crossing -> claims.check_decisions, with Holm across cells), and every cell
still open that a later look can decide, and that the design's futility stop does not stop, gets the seeds
nnscratch.run.adaptive.round_target gives it (from stats.next_look, as claims.seeds_needed does), numbered
by nnscratch.run.adaptive.next_seeds and read in seed order as claims.cell_row reads them, until nothing is
open or can be decided.

A decision is wrong when it is on the wrong side of the quantity the rule states: for the binomial rule
the share of passing seeds (P(margin passes) vs the rate), for the t rule it replaced the mean margin;
where that quantity is exactly on the threshold, every decision is wrong. Beside the engine's rule, the
t design it replaced (a group-sequential t boundary, stats.t_boundary, looks 3, 6, 10 with power-2
spending) runs on the same draws. Nothing imports this module but experiments/calibrate.py, seed_cost.py
and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

import numpy as np
import pandas as pd
from scipy import optimize
from scipy import stats as st

from nnscratch.claims import FAILS, HOLDS, UNDECIDED, check_decisions
from nnscratch.run.adaptive import next_seeds, round_target
from nnscratch.stats import BinomialDesign, binomial_crossing, crossing, next_look, seeds_to_cross, t_boundary

SKEW = 2.4  # the skewness of the real reference cell's seeds (docs/statistics.md), with its sign flipped


def lognormal_sigma(skew: float) -> float:
    """The lognormal shape whose skewness is `skew`: (e^s² + 2) sqrt(e^s² - 1) = skew."""
    return optimize.brentq(lambda s: (np.exp(s * s) + 2) * np.sqrt(np.exp(s * s) - 1) - skew, 1e-3, 3)


def laws() -> dict[str, list[tuple[float, object, int]]]:
    """Each law as mixture components (weight, scipy distribution, sign: -1 for the distribution negated)."""
    return {
        "normal": [(1.0, st.norm(), 1)],
        "t3": [(1.0, st.t(3), 1)],
        "rare_failure": [(0.116, st.norm(-2.76, 0.05), 1), (0.884, st.norm(0.36, 0.05), 1)],
        "neg_gamma": [(1.0, st.gamma((2 / SKEW) ** 2), -1)],
        "neg_lognormal": [(1.0, st.lognorm(lognormal_sigma(SKEW)), -1)],
        "outliers": [(0.99, st.norm(), 1), (0.01, st.norm(-6, 0.05), 1)],
        "mixture": [(0.9, st.norm(0.05, 0.02), 1), (0.1, st.norm(-0.7, 0.02), 1)],
    }


@dataclass(frozen=True)
class Law:
    """A mixture law of margins: its CDF, mean, sd and median, and draws."""

    components: tuple[tuple[float, object, int], ...]

    def cdf(self, x: float) -> float:
        return sum(w * (d.cdf(x) if s > 0 else d.sf(-x)) for w, d, s in self.components)

    @property
    def mean(self) -> float:
        return sum(w * s * d.mean() for w, d, s in self.components)

    @property
    def sd(self) -> float:
        second = sum(w * (d.var() + d.mean() ** 2) for w, d, _ in self.components)
        return float(np.sqrt(second - self.mean**2))

    @property
    def median(self) -> float:
        return optimize.brentq(lambda x: self.cdf(x) - 0.5, -50, 50, xtol=1e-14)

    def draw(self, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        which = rng.choice(len(self.components), size=shape, p=[w for w, _, _ in self.components])
        out = np.empty(shape)
        for k, (_, d, s) in enumerate(self.components):
            out[which == k] = s * d.rvs(size=int((which == k).sum()), random_state=rng)
        return out


@cache
def law_of(name: str) -> Law:
    if name not in laws():
        raise ValueError(f"calibration: unknown law {name!r} (allowed: {', '.join(laws())}, empirical)")
    return Law(tuple(laws()[name]))


@dataclass(frozen=True)
class Case:
    """A synthetic check: `cells` cells whose margins follow `law`, with the law's `centre` (median, mean,
    or none: the law as given) put `mu` of its sds from the threshold (none: `mu` added as is).

    step: 0 = the adaptive rule's own steps; 1 = one seed per round (as if resumed after every seed).
    seeds: the grid's seed numbers; numbering: 'above' (the engine: new seeds above the largest) or
    'lowest' (before issue 40: the lowest unused numbers). values: a real cell's seeds (law 'empirical')."""

    name: str
    law: str = "normal"
    centre: str = "mean"
    mu: float = 0.0
    cells: int = 1
    step: int = 0
    seeds: tuple[int, ...] = (0, 1, 2)
    numbering: str = "above"
    values: tuple[float, ...] = ()

    def shift(self) -> tuple[float, float]:
        """(location subtracted, scale divided) to turn a draw of the law into a margin (before adding mu)."""
        if self.law == "empirical":
            v = np.asarray(self.values, float)
            return (float(np.mean(v)) if self.centre == "mean" else float(np.median(v))), float(np.std(v, ddof=1))
        law = law_of(self.law)
        if self.centre == "none":
            return 0.0, 1.0
        return (law.mean if self.centre == "mean" else law.median), law.sd

    def p_pass(self) -> float:
        """The exact chance that a seed's margin passes (>= 0)."""
        loc, scale = self.shift()
        edge = loc - self.mu * scale  # a draw x passes when (x - loc) / scale + mu >= 0
        if self.law == "empirical":
            return float((np.asarray(self.values) >= edge).mean())
        return 1 - law_of(self.law).cdf(edge)

    def mean_margin(self) -> float:
        loc, scale = self.shift()
        mean = float(np.mean(self.values)) if self.law == "empirical" else law_of(self.law).mean
        return (mean - loc) / scale + self.mu

    def truth(self, rate: float) -> dict[str, int]:
        """The right decision per rule: HOLDS, FAILS, or 0 where no decision is right (on the threshold)."""
        side = lambda x: 0 if abs(x) < 1e-9 else int(np.sign(x))  # noqa: E731
        return {"binomial": side(self.p_pass() - rate), "t": side(self.mean_margin())}

    def draw(self, reps: int, last: int, rng: np.random.Generator) -> np.ndarray:
        """(reps * cells, last) margins, in the order the seeds are added."""
        shape = (reps * self.cells, last)
        loc, scale = self.shift()
        x = (
            rng.choice(np.asarray(self.values, float), shape)
            if self.law == "empirical"
            else law_of(self.law).draw(shape, rng)
        )
        return (x - loc) / scale + self.mu


def seed_numbers(case: Case, last: int) -> np.ndarray:
    """(last,) the seed number of each seed in the order it is added: the grid's, then the engine's next_seeds
    (or, before, the lowest unused numbers)."""
    have = list(case.seeds)
    if case.numbering == "above":
        return np.array(have + next_seeds(have, last - len(have)))
    out, s = list(have), 0
    while len(out) < last:
        if s not in out:
            out.append(s)
        s += 1
    return np.array(out)


def judged(margins: np.ndarray, case: Case, decide) -> tuple[np.ndarray, np.ndarray]:
    """(direction, p) (R, last) as of each seed count n: the cell's first n seeds read in seed order, as
    claims.cell_row sorts them, then `decide` (R, n) margins -> (direction, p) (R, n)."""
    last = margins.shape[1]
    numbers = seed_numbers(case, last)
    direction, p = np.zeros(margins.shape, int), np.ones(margins.shape)
    for n in range(1, last + 1):
        order = np.argsort(numbers[:n], kind="stable")
        d, q = decide(margins[:, order])
        direction[:, n - 1], p[:, n - 1] = d[:, -1], q[:, -1]
    return direction, p


def at(table: np.ndarray, n: np.ndarray) -> np.ndarray:
    """table (R, last) read at each row's seed count n (R,)."""
    return np.take_along_axis(table, (n - 1)[:, None], 1)[:, 0]


def play(case: Case, direction, p, needed, level: float, looks, max_seeds: int, first: int, by_look: bool = False):
    """Rounds of adaptive seeds on every replication at once: (final codes (R, cells), seeds (R, cells)).
    needed(rows, n) -> the look each open row can still be decided at (NaN: none)."""
    n = np.full(direction.shape[0], first)
    while True:
        codes = at(direction, n).reshape(-1, case.cells)
        final = check_decisions(codes, at(p, n).reshape(-1, case.cells), level).ravel()
        grow = (final == UNDECIDED) & (codes.ravel() == UNDECIDED) & (n < max_seeds)  # decided alone: no seeds
        goal = needed(np.nonzero(grow)[0], n[grow])
        grow[np.nonzero(grow)[0][np.isnan(goal)]] = False  # no look can decide them: no more seeds
        if not grow.any():
            return final.reshape(-1, case.cells), n.reshape(-1, case.cells)
        goal = goal[~np.isnan(goal)]
        target = n[grow] + 1 if case.step else round_target(n[grow], goal, max_seeds, looks, by_look).astype(int)
        n[grow] = np.minimum(target, max_seeds)


def binomial_rule(case: Case, margins: np.ndarray, test: BinomialDesign, max_seeds: int, first: int):
    """The engine's rule: the exact binomial design on each seed's pass."""
    direction, p = judged(margins, case, lambda m: astuple(binomial_crossing(m >= 0, test)))
    passes = np.cumsum(margins >= 0, axis=1)  # in the order added: the order read, numbering 'above'

    def needed(rows, n):
        look = test.look_at(n)
        at_look = np.where(look > 0, passes[rows, np.maximum(look, 1) - 1], 0)
        return next_look(passes[rows, n - 1], n, at_look, test)

    return play(case, direction, p, needed, test.level, test.looks, max_seeds, first, test.futility is not None)


def t_rule(case: Case, margins: np.ndarray, level: float, max_seeds: int, first: int):
    """The t design it replaced (looks 3, 6, 10, power-2 spending), on the same draws."""
    boundary = t_boundary(level, (3, 6, 10), "power 2")
    direction, p = judged(margins, case, lambda m: astuple(crossing(m, boundary)))
    n_all = np.arange(1, margins.shape[1] + 1)
    mean = np.cumsum(margins, 1) / n_all
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(np.maximum((np.cumsum(margins**2, 1) - n_all * mean**2) / (n_all - 1), 0))

    def needed(rows, n):
        found = seeds_to_cross(mean[rows, n - 1], sd[rows, n - 1], n, boundary)
        return np.where(np.isnan(found), max_seeds, found)  # the t design went on to max_seeds

    return play(case, direction, p, needed, level, boundary.looks, max_seeds, first)


def astuple(cross) -> tuple[np.ndarray, np.ndarray]:
    """A stats.Crossing as (direction, p), each (R, n)."""
    return cross.direction, cross.p


def summary(codes: np.ndarray, seeds: np.ndarray, truth: int) -> dict:
    """One row: P(decision), P(wrong side), P(right), P(holds), mean seeds."""
    decided = np.isin(codes, (HOLDS, FAILS))
    wrong = decided & (codes != truth) if truth else decided
    return {
        "P(decision)": decided.any(1).mean(),
        "P(wrong)": wrong.any(1).mean(),
        "P(right)": (codes == truth).all(1).mean() if truth else np.nan,
        "P(holds)": (codes == HOLDS).any(1).mean(),
        "mean seeds": seeds.mean(),
    }


def real_cases(values: np.ndarray, measure: str) -> list[Case]:
    """Cases whose seeds are resampled from one real cell's `values` (n,): the threshold at their median (no
    binomial decision is right) and at their mean (no t decision is right)."""
    sd = float(np.std(values, ddof=1))
    name = f"real: {measure} of {len(values)} seeds (mean {np.mean(values):.4f}, sd {sd:.4f})"
    return [
        Case(f"{name}, threshold at the median", law="empirical", centre="median", values=tuple(values)),
        Case(f"{name}, threshold at the mean", law="empirical", centre="mean", values=tuple(values)),
    ]


def calibrate(
    cases: list[Case], test: BinomialDesign, max_seeds: int, reps: int, seed: int, first: int
) -> pd.DataFrame:
    """Both rules on every case, `reps` replications each (seeded): one row per (case, rule); with a futility
    stop in `test`, the same design without it too, on the same draws."""
    rows = []
    for i, case in enumerate(cases):
        margins = case.draw(reps, max(test.last, 10), np.random.default_rng([seed, i]))
        truth = case.truth(test.rate)
        found = {
            "binomial (now)": (binomial_rule(case, margins[:, : test.last], test, max_seeds, first), truth["binomial"]),
        }
        if test.futility is not None:
            without = replace(test, futility=None)
            found["binomial, no futility stop"] = (
                binomial_rule(case, margins[:, : test.last], without, max_seeds, first),
                truth["binomial"],
            )
        found["t design (before)"] = (t_rule(case, margins[:, :10], test.level, min(max_seeds, 10), first), truth["t"])
        for rule, ((codes, seeds), right) in found.items():
            stated = "share passing" if rule.startswith("binomial") else "mean"
            row = {
                "case": case.name,
                "rule": rule,
                "states": stated,
                "truth": {1: "holds", -1: "fails", 0: "neither"}[right],
            }
            rows.append(row | summary(codes, seeds, right))
    return pd.DataFrame(rows)
