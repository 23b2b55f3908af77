"""The statistics behind a verdict: a sequential t boundary valid at every seed count, exact binomial
bounds on seed outcomes, and Holm's step-down across cells. NumPy and SciPy only (no pandas, no Hydra).

Everything takes arrays of replications so that the calibration (nnscratch.perf.calibration) runs the very
functions the claims engine runs: `margins` is (R, n) float — R replications (R = 1 for a real cell)
of n seeds' margins, in seed order.

The boundary. Under normal margins the one-sample t statistic T_n = sqrt(n) mean / sd is pivotal: its
null distribution (true mean 0) does not depend on sigma. So one simulation with a fixed seed gives
the per-look level `per_look` such that

    P( some n in [first, last] has |T_n| >= t_{n-1}^{-1}(1 - per_look / 2) | mean 0 ) = 1 - level,

a Pocock-type design (the same nominal level at every look) that looks at *every* seed count from
`first` to `last`. A cell is decided at n seeds when one of its prefixes (seeds 0..n'-1, n' <= n) has
crossed; so however many rounds add seeds, in whatever steps, resumes included, the chance that a
cell at mean 0 is ever decided is at most 1 - level — as long as no cell goes beyond `last` seeds,
which the engine refuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import stats

REPLICATIONS = 200_000  # null paths simulated for a boundary
BOUNDARY_SEED = 2023  # the simulation's seed: same design -> same critical values, on every machine


@dataclass(frozen=True)
class Boundary:
    """A sequential t design: looks at every n in [first, last], two-sided, overall level `level`.

    critical: (last - first + 1,) the |t| each n must reach; null_min_p: the simulated null sample of
    the smallest per-look p-value over the whole design, sorted (it turns a path's smallest p into an
    exact sequential p-value)."""

    level: float
    first: int
    last: int
    per_look: float
    critical: tuple[float, ...]
    null_min_p: np.ndarray = field(repr=False, compare=False)

    def critical_at(self, n: np.ndarray | int) -> np.ndarray:
        """|t| needed at n seeds; inf below the first look."""
        n = np.asarray(n)
        table = np.concatenate([np.full(self.first, np.inf), self.critical])
        return table[np.clip(n, 0, self.last)]

    def sequential_p(self, min_p: np.ndarray) -> np.ndarray:
        """P(null path's smallest p <= min_p): a p-value valid under any stopping within the design."""
        return np.searchsorted(self.null_min_p, min_p, side="right") / len(self.null_min_p)

    def record(self) -> dict:
        """The design as sweep.json records it before the first seed runs."""
        return {
            "kind": "sequential t, every look from first to last (Pocock-type)",
            "level": self.level,
            "first": self.first,
            "last": self.last,
            "per_look_level": round(self.per_look, 6),
            "critical_t": {str(n): round(c, 4) for n, c in zip(range(self.first, self.last + 1), self.critical)},
            "replications": REPLICATIONS,
            "seed": BOUNDARY_SEED,
        }


def prefix_t(margins: np.ndarray) -> np.ndarray:
    """(R, n) -> (R, n): the t statistic of each prefix of seeds (column j: the first j + 1 seeds); NaN for a
    single seed or a prefix whose seeds all give the same value (no spread: t is undefined, not infinite)."""
    x = np.asarray(margins, dtype=np.float64)
    n = np.arange(1, x.shape[1] + 1)
    mean = np.cumsum(x, axis=1) / n
    # spread around the running mean, summed as squares of deviations from the first seed (stable)
    d = x - x[:, :1]
    var = (np.cumsum(d * d, axis=1) - n * (mean - x[:, :1]) ** 2) / np.maximum(n - 1, 1)
    flat = flat_prefixes(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = mean / np.sqrt(np.maximum(var, 0) / n)
    t[:, 0] = np.nan
    t[flat] = np.nan
    return t


SAME = 1e-9  # relative: seeds closer than this gave the same value (an accuracy on 10,000 images moves by 1e-4)


def flat_prefixes(x: np.ndarray) -> np.ndarray:
    """(R, n) -> (R, n) bool: the first j + 1 seeds all gave the same value, up to float rounding (a
    difference of twin runs that agree is 8e-18, not 0)."""
    top, bottom = np.maximum.accumulate(x, axis=1), np.minimum.accumulate(x, axis=1)
    return top - bottom <= SAME * np.maximum(1.0, np.maximum.accumulate(np.abs(x), axis=1))


def no_spread(margins: np.ndarray) -> bool:
    """One cell's seeds (n,) all gave the same value, up to float rounding."""
    return len(margins) > 1 and bool(flat_prefixes(np.asarray(margins, float)[None, :])[0, -1])


def look_p(t: np.ndarray, first: int) -> np.ndarray:
    """(R, n) prefix t -> (R, n) two-sided per-look p-values; 1 before the first look or where t is NaN."""
    n = np.arange(1, t.shape[1] + 1)
    p = 2 * stats.t.sf(np.abs(t), np.maximum(n - 1, 1))
    p[:, : first - 1] = 1.0
    return np.where(np.isnan(p), 1.0, p)


@lru_cache(maxsize=16)
def t_boundary(level: float, first: int, last: int) -> Boundary:
    """The design's per-look level and critical values, from REPLICATIONS null paths (seeded)."""
    if not (2 <= first <= last):
        raise ValueError(f"sequential design: need 2 <= first look <= max seeds, got first={first}, last={last}")
    rng = np.random.default_rng(BOUNDARY_SEED)
    null = rng.standard_normal((REPLICATIONS, last))
    min_p = np.sort(look_p(prefix_t(null), first).min(axis=1))
    alpha = 1 - level
    # two standard errors of the simulated rate below alpha, so that the design's true error stays <= alpha
    per_look = float(np.quantile(min_p, alpha - 2 * np.sqrt(alpha * level / REPLICATIONS)))
    n = np.arange(first, last + 1)
    critical = tuple(float(c) for c in stats.t.isf(per_look / 2, n - 1))
    return Boundary(level, first, last, per_look, critical, min_p)


@dataclass
class Crossing:
    """Per replication and seed count, whether the boundary has been crossed and how.

    All (R, n): direction (+1 passing side, -1 failing side, 0 not crossed by any prefix up to this n),
    p (the sequential p-value at this n: from the smallest per-look p so far), t (this n's t)."""

    direction: np.ndarray
    p: np.ndarray
    t: np.ndarray


def crossing(margins: np.ndarray, boundary: Boundary) -> Crossing:
    """Where the prefixes of `margins` (R, n) cross `boundary`; n must not exceed boundary.last."""
    if margins.shape[1] > boundary.last:
        raise ValueError(f"{margins.shape[1]} seeds is more than the sequential design's last look {boundary.last}")
    t = prefix_t(margins)
    p = look_p(t, boundary.first)
    crossed = p <= boundary.per_look
    first_cross = np.where(crossed.any(axis=1), crossed.argmax(axis=1), margins.shape[1])
    sign = np.sign(np.take_along_axis(np.nan_to_num(t), np.minimum(first_cross, t.shape[1] - 1)[:, None], 1))
    after = np.arange(margins.shape[1])[None, :] >= first_cross[:, None]
    direction = np.where(after, sign, 0).astype(int)
    return Crossing(direction, boundary.sequential_p(np.minimum.accumulate(p, axis=1)), t)


def seeds_to_cross(mean: np.ndarray, sd: np.ndarray, n: np.ndarray, boundary: Boundary) -> np.ndarray:
    """Smallest n' > n (up to boundary.last) whose critical t would be reached at this mean and sd; NaN if
    none would (a guide for how many seeds to add, not a promise). All (R,)."""
    mean, sd, n = np.atleast_1d(mean), np.atleast_1d(sd), np.atleast_1d(n)
    looks = np.arange(boundary.first, boundary.last + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        reach = np.abs(mean)[:, None] * np.sqrt(looks)[None, :] / sd[:, None]
    ok = (reach >= np.array(boundary.critical)[None, :]) & (looks[None, :] > n[:, None])
    ok &= np.isfinite(reach)
    return np.where(ok.any(axis=1), looks[ok.argmax(axis=1)], np.nan)


def clopper_pearson(k: np.ndarray, n: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact two-sided binomial interval (low, high) for a rate after k events in n trials (arrays)."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    a = (1 - level) / 2
    with np.errstate(invalid="ignore"):
        low = np.where(k > 0, stats.beta.ppf(a, k, n - k + 1), 0.0)
        high = np.where(k < n, stats.beta.ppf(1 - a, k + 1, n - k), 1.0)
    return low, high


def rate_level(boundary: Boundary) -> float:
    """The level of each look's Clopper–Pearson interval for a claim about a rate: Bonferroni over every
    look of the design, so that deciding at any look keeps the overall error at 1 - boundary.level."""
    return 1 - (1 - boundary.level) / (boundary.last - boundary.first + 1)


def holm(p: np.ndarray, level: float) -> np.ndarray:
    """Holm's step-down across the last axis: (R, m) p-values -> (R, m) bool, rejected at family level."""
    p = np.atleast_2d(p)
    m = p.shape[1]
    order = np.argsort(p, axis=1, kind="stable")
    ranked = np.take_along_axis(p, order, 1)
    passes = np.logical_and.accumulate(ranked <= (1 - level) / (m - np.arange(m))[None, :], axis=1)
    out = np.empty_like(passes)
    np.put_along_axis(out, order, passes, 1)
    return out
