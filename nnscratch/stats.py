"""The statistics behind a verdict: the exact group-sequential binomial design that decides every cell
(BinomialDesign, at the end of this module), exact binomial bounds on seed outcomes, Holm's step-down
across cells, and the group-sequential t boundary it replaced (kept for the calibration's comparison).
NumPy and SciPy only (no pandas, no Hydra).

The decision. A seed passes when its margin is on the passing side; whatever law the margins follow, each
seed's pass is a coin of some chance p, so 'more than a share r of seeds pass' (r = 0.5: the median
margin passes) is tested exactly by counting passes: BinomialDesign's critical counts at each look are
computed under p = r by convolution, no simulation and no assumption on the law.

Futility (non-binding; `futile`, `next_look`): at a look before the last, a cell whose chance of a
decision by the last look would be small even with the effect the design is meant to find stops getting
seeds and is reported undecided. It removes seeds, never decisions, so the error above is unchanged.

Everything takes arrays of replications so that the calibration (benchmarks.calibration) runs the very
functions the claims engine runs: `margins` is (R, n) float — R replications (R = 1 for a real cell)
of n seeds' margins, in seed order.

The t boundary (before issue 40; it holds its level only for normal margins). Under normal margins the
one-sample t statistic T_n = sqrt(n) mean / sd is pivotal: its null distribution (true mean 0) does not
depend on sigma. The design looks only at the seed counts
`looks` (e.g. 3, 6, 10), fixed in the claims file before any seed runs, and spends its error 1 - level
over them by a spending function alpha(n) (the cumulative error allowed by look n):

    pocock           the same per-look level at every look
    obrien_fleming   Lan–DeMets: alpha(n) = 2 - 2 Phi(z_{alpha/2} / sqrt(n / N))
    {power: rho}     Kim–DeMets: alpha(n) = alpha (n / N)^rho

One simulation with a fixed seed gives each look's critical |t| such that P(first crossing at look k |
mean 0) = alpha(n_k) - alpha(n_{k-1}). A cell with n seeds is judged at every look <= n on the prefix of
its first `look` seeds, so the number of rounds and their steps (resumes included) change only when it
stops, never its error: the chance that a cell at mean 0 is ever decided is at most 1 - level, as long
as no cell goes beyond the last look. The binomial design is judged the same way, at its looks only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

import numpy as np

REPLICATIONS = 200_000  # null paths simulated for a boundary
BOUNDARY_SEED = 2023  # the simulation's seed: same design -> same critical values, on every machine
SPENDING = ("pocock", "obrien_fleming", "{power: rho}")


class Looks:
    """A design's looks (`looks`: increasing seed counts, the only ones a cell is judged at)."""

    looks: tuple[int, ...]

    @property
    def first(self) -> int:
        return self.looks[0]

    @property
    def last(self) -> int:
        return self.looks[-1]

    def look_at(self, n: np.ndarray | int) -> np.ndarray:
        """The last look at or below n seeds (0 below the first look)."""
        return np.concatenate([[0], self.looks])[np.searchsorted(self.looks, n, side="right")]


@dataclass(frozen=True)
class Boundary(Looks):
    """A group-sequential t design: looks at the seed counts `looks` only, two-sided, overall level `level`.

    critical, per_look, spent: (len(looks),) the |t| each look must reach, the same as a per-look two-sided
    p-value, and the cumulative error spent by that look; null_min_ratio: the simulated null sample of the
    smallest p / per_look over the design, sorted (it turns a path's smallest ratio into an exact
    sequential p-value)."""

    level: float
    looks: tuple[int, ...]
    spending: str
    critical: tuple[float, ...]
    per_look: tuple[float, ...]
    spent: tuple[float, ...]
    null_min_ratio: np.ndarray = field(repr=False, compare=False)

    def critical_at(self, n: np.ndarray | int) -> np.ndarray:
        """|t| needed at the last look at or below n seeds; inf below the first look."""
        return np.concatenate([[np.inf], self.critical])[np.searchsorted(self.looks, n, side="right")]

    def ratio_levels(self) -> np.ndarray:
        """(last,) per-look level by seed count n = 1..last; 0 where n is not a look (never crosses)."""
        levels = np.zeros(self.last)
        levels[np.array(self.looks) - 1] = self.per_look
        return levels

    def sequential_p(self, min_ratio: np.ndarray) -> np.ndarray:
        """P(null path's smallest p / per_look <= min_ratio): a p-value valid under any stopping within the
        design (<= 1 - level exactly when the boundary was crossed)."""
        return np.searchsorted(self.null_min_ratio, min_ratio, side="right") / len(self.null_min_ratio)

    def record(self) -> dict:
        """The design as sweep.json records it before the first seed runs."""
        return {
            "kind": f"group-sequential t, looks at {list(self.looks)} seeds, {self.spending} spending",
            "level": self.level,
            "looks": list(self.looks),
            "spending": self.spending,
            "error_spent": {str(n): round(a, 6) for n, a in zip(self.looks, self.spent)},
            "per_look_level": {str(n): round(a, 6) for n, a in zip(self.looks, self.per_look)},
            "critical_t": {str(n): round(c, 4) for n, c in zip(self.looks, self.critical)},
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


def look_p(t: np.ndarray, looks: tuple[int, ...]) -> np.ndarray:
    """(R, n) prefix t -> (R, n) two-sided p-values at the design's looks; 1 at every other seed count or
    where t is NaN."""
    # imported here: scipy.stats is slow to import, and a sweep without adaptive seeds never uses it
    from scipy import stats

    cols = np.array([n - 1 for n in looks if n <= t.shape[1]], int)
    p = np.ones_like(t, dtype=np.float64)
    if len(cols):  # the t distribution's sf is the costly part: only at the looks
        at_looks = 2 * stats.t.sf(np.abs(t[:, cols]), cols)
        p[:, cols] = np.where(np.isnan(at_looks), 1.0, at_looks)
    return p


def spending_name(spending) -> str:
    """The claims file's `spending:` (pocock, obrien_fleming or {power: rho}) as one hashable name."""
    if isinstance(spending, dict) and set(spending) == {"power"} and isinstance(spending["power"], int | float):
        return f"power {float(spending['power']):g}"
    if spending in ("pocock", "obrien_fleming"):
        return spending
    raise ValueError(f"claims file: sequential.spending must be one of {', '.join(SPENDING)}, got {spending!r}")


def cumulative_spending(spending: str, looks: tuple[int, ...], alpha: float) -> np.ndarray:
    """(len(looks),) the error a spending function allows by each look (information fraction n / N)."""
    # imported here: scipy.stats is slow to import, and a sweep without adaptive seeds never uses it
    from scipy import stats

    fraction = np.array(looks, float) / looks[-1]
    if spending == "obrien_fleming":
        return 2 * stats.norm.sf(stats.norm.isf(alpha / 2) / np.sqrt(fraction))
    return alpha * fraction ** float(spending.split()[1])


@lru_cache(maxsize=16)
def t_boundary(level: float, looks: tuple[int, ...], spending: str = "pocock") -> Boundary:
    """The design's critical values, from REPLICATIONS null paths (seeded)."""
    # imported here: scipy.stats is slow to import, and a sweep without adaptive seeds never uses it
    from scipy import stats

    if len(looks) == 0 or looks[0] < 2 or any(a >= b for a, b in zip(looks, looks[1:])):
        raise ValueError(f"sequential design: looks must be increasing seed counts >= 2, got {list(looks)}")
    rng = np.random.default_rng(BOUNDARY_SEED)
    null = np.abs(prefix_t(rng.standard_normal((REPLICATIONS, looks[-1]))))[:, np.array(looks) - 1]
    null = np.nan_to_num(null)
    alpha = 1 - level
    # two standard errors of the simulated rate below alpha, so that the design's true error stays <= alpha
    target = alpha - 2 * np.sqrt(alpha * level / REPLICATIONS)
    df = np.array(looks) - 1
    if spending == "pocock":
        min_p = (2 * stats.t.sf(null, df)).min(axis=1)
        critical = stats.t.isf(np.quantile(min_p, target) / 2, df)
    else:
        critical = spent_critical(null, cumulative_spending(spending, looks, alpha) * target / alpha)
    per_look = 2 * stats.t.sf(critical, df)
    crossed = null >= critical[None, :]
    first = np.where(crossed.any(axis=1), crossed.argmax(axis=1), len(looks))
    spent = np.array([(first <= k).mean() for k in range(len(looks))])
    with np.errstate(divide="ignore"):
        ratio = np.sort((2 * stats.t.sf(null, df) / per_look[None, :]).min(axis=1))
    as_tuple = lambda a: tuple(float(x) for x in a)  # noqa: E731
    return Boundary(level, looks, spending, as_tuple(critical), as_tuple(per_look), as_tuple(spent), ratio)


def spent_critical(null: np.ndarray, cumulative: np.ndarray) -> np.ndarray:
    """(R, K) null |t| at each look, (K,) error to spend by each look -> (K,) critical |t|: at look k, the
    paths not yet crossed that reach it are the share cumulative[k] - cumulative[k - 1] of all paths."""
    alive, crossed, critical = np.ones(len(null), bool), 0, []
    for k, allowed in enumerate(cumulative):
        need = int(round(allowed * len(null))) - crossed
        values = np.sort(null[alive, k])[::-1]
        c = values[need - 1] if need > 0 else np.inf
        critical.append(c)
        alive &= null[:, k] < c
        crossed = len(null) - int(alive.sum())
    return np.array(critical)


@dataclass
class Crossing:
    """Per replication and seed count, whether the boundary has been crossed and how.

    All (R, n): direction (+1 passing side, -1 failing side, 0 not crossed at any look up to this n),
    p (the sequential p-value at this n: from the smallest p / per_look at the looks so far), t (this n's t)."""

    direction: np.ndarray
    p: np.ndarray
    t: np.ndarray


def crossing(margins: np.ndarray, boundary: Boundary) -> Crossing:
    """Where the prefixes of `margins` (R, n) cross `boundary` (at its looks only); n must not exceed
    boundary.last."""
    if margins.shape[1] > boundary.last:
        raise ValueError(f"{margins.shape[1]} seeds is more than the sequential design's last look {boundary.last}")
    t = prefix_t(margins)
    levels = boundary.ratio_levels()[: margins.shape[1]]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(levels > 0, look_p(t, boundary.looks) / np.where(levels > 0, levels, 1), np.inf)
    crossed = ratio <= 1
    first_cross = np.where(crossed.any(axis=1), crossed.argmax(axis=1), margins.shape[1])
    sign = np.sign(np.take_along_axis(np.nan_to_num(t), np.minimum(first_cross, t.shape[1] - 1)[:, None], 1))
    after = np.arange(margins.shape[1])[None, :] >= first_cross[:, None]
    direction = np.where(after, sign, 0).astype(int)
    return Crossing(direction, boundary.sequential_p(np.minimum.accumulate(ratio, axis=1)), t)


def seeds_to_cross(mean: np.ndarray, sd: np.ndarray, n: np.ndarray, boundary: Boundary) -> np.ndarray:
    """Smallest look > n whose critical t would be reached at this mean and sd; NaN if none would (a guide
    for how many seeds to add, not a promise). All (R,)."""
    mean, sd, n = np.atleast_1d(mean), np.atleast_1d(sd), np.atleast_1d(n)
    looks = np.array(boundary.looks)
    with np.errstate(divide="ignore", invalid="ignore"):
        reach = np.abs(mean)[:, None] * np.sqrt(looks)[None, :] / sd[:, None]
    ok = (reach >= np.array(boundary.critical)[None, :]) & (looks[None, :] > n[:, None])
    ok &= np.isfinite(reach)
    return np.where(ok.any(axis=1), looks[ok.argmax(axis=1)], np.nan)


def clopper_pearson(k: np.ndarray, n: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact two-sided binomial interval (low, high) for a rate after k events in n trials (arrays)."""
    # imported here: scipy.stats is slow to import, and a sweep without adaptive seeds never uses it
    from scipy import stats

    k, n = np.asarray(k, float), np.asarray(n, float)
    a = (1 - level) / 2
    with np.errstate(invalid="ignore"):
        low = np.where(k > 0, stats.beta.ppf(a, k, n - k + 1), 0.0)
        high = np.where(k < n, stats.beta.ppf(1 - a, k + 1, n - k), 1.0)
    return low, high


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


# ---------------------------------------------------------------- the exact binomial design (any law)

SPENDING_BINOMIAL = ("obrien_fleming", "{power: rho}")


@dataclass(frozen=True)
class BinomialDesign(Looks):
    """An exact group-sequential binomial test of the rate at which a seed passes, p = P(margin passes):
    'holds' states p > rate, 'fails' states p < rate. Looks at the seed counts `looks` only, two-sided,
    each side's error spent by look n at most (1 - level) / 2 · spending(n / N), computed exactly under
    p = rate (no simulation, no assumption on the seeds' law: a seed's pass is a Bernoulli(p) whatever
    the margins' law, and crossing the holds side is an increasing event in p, so its chance is largest
    at p = rate; likewise the fails side).

    upper, lower: (len(looks),) passes at a look that hold (>= upper) or fail (<= lower); upper = n + 1
    or lower = -1 where that look cannot decide that side. spent_upper, spent_lower: each side's exact
    cumulative error by each look at p = rate. alive: per look, the chance at p = rate of each pass count
    0..n among the paths not stopped before it (for exact stagewise p-values). futility: a cell stops
    getting seeds at a look before the last where, even with a normal effect of `effect` sds, its chance of a
    decision by the last look is below this (`futile`; non-binding: the error above is unchanged); None: no
    futility stop."""

    level: float
    looks: tuple[int, ...]
    spending: str
    rate: float
    upper: tuple[int, ...]
    lower: tuple[int, ...]
    spent_upper: tuple[float, ...]
    spent_lower: tuple[float, ...]
    alive: tuple[tuple[float, ...], ...] = field(repr=False, compare=False)
    futility: float | None = None
    effect: float = 1.4

    @property
    def error(self) -> float:
        """The exact chance, at p = rate, that a cell is ever decided (either side): the design's error."""
        return self.spent_upper[-1] + self.spent_lower[-1]

    def statement(self) -> str:
        """What a decision states, e.g. 'more than half of seeds pass (the median margin is on the passing side)'."""
        if self.rate == 0.5:
            return "more than half of seeds pass (the median margin passes)"
        return f"more than {self.rate:.0%} of seeds pass"

    def guarantee(self) -> str:
        """The per-claim guarantee in one line, e.g. 'P(pass) vs 0.5, any law of the seeds, error ≤ 0.043'."""
        return (
            f"rate of passing seeds vs {self.rate:g}, any law of the seeds' margins, exact binomial: "
            f"P(wrong decision) ≤ {self.error:.3f} over all looks ({', '.join(map(str, self.looks))} seeds)"
        )

    def record(self) -> dict:
        """The design as sweep.json records it before the first seed runs."""
        return {
            "kind": f"exact group-sequential binomial (sign) test, looks at {list(self.looks)} seeds, "
            f"{self.spending} spending",
            "level": self.level,
            "looks": list(self.looks),
            "spending": self.spending,
            "rate": self.rate,
            "holds_at_passes": {str(n): u for n, u in zip(self.looks, self.upper) if u <= n},
            "fails_at_passes": {str(n): low for n, low in zip(self.looks, self.lower) if low >= 0},
            "error_exact": round(self.error, 6),
            "futility": None if self.futility is None else {"below": self.futility, "effect": self.effect},
        }


def cumulative_spending_side(spending: str, looks: tuple[int, ...], alpha_side: float) -> np.ndarray:
    """(len(looks),) one side's error allowed by each look; Pocock has no spending function here."""
    if spending == "pocock":
        raise ValueError(
            "claims file: sequential.spending pocock is a t design; the exact binomial design takes "
            "{power: rho} (e.g. {power: 0.5}) or obrien_fleming"
        )
    return cumulative_spending(spending, looks, alpha_side)


@lru_cache(maxsize=64)
def binomial_design(
    level: float,
    looks: tuple[int, ...],
    spending: str,
    rate: float = 0.5,
    futility: float | None = None,
    effect: float = 1.4,
) -> BinomialDesign:
    """The exact design: at each look, the most lenient pass counts whose exact cumulative error at p = rate
    stays within each side's spending (conservative: discrete counts spend at most what is allowed); with
    the futility stop `futility` at `effect` sds (see BinomialDesign; None: none)."""
    # imported here: scipy.stats is slow to import, and a sweep without adaptive seeds never uses it
    from scipy import stats

    if len(looks) == 0 or looks[0] < 1 or any(a >= b for a, b in zip(looks, looks[1:])):
        raise ValueError(f"sequential design: looks must be increasing seed counts >= 1, got {list(looks)}")
    if not 0 < rate < 1:
        raise ValueError(f"claims file: rate must be between 0 and 1 (e.g. 0.9), got {rate}")
    if futility is not None and not 0 < futility < 1:
        raise ValueError(
            f"claims file: sequential.futility must be a chance in (0, 1), e.g. 0.1, or null; got {futility}"
        )
    allowed = cumulative_spending_side(spending, looks, (1 - level) / 2) + 1e-12  # float slack on exact ties
    alive, before = np.array([1.0]), 0
    upper, lower, spent_up, spent_low, alive_at = [], [], [0.0], [0.0], []
    for n, allow in zip(looks, allowed):
        alive = np.convolve(alive, stats.binom.pmf(np.arange(n - before + 1), n - before, rate))
        alive_at.append(tuple(float(a) for a in alive))
        at_least = np.cumsum(alive[::-1])[::-1]  # P(passes >= c, not stopped before), c = 0..n
        at_most = np.cumsum(alive)  # P(passes <= c, ...)
        u = int(np.argmax(spent_up[-1] + at_least <= allow)) if (spent_up[-1] + at_least <= allow).any() else n + 1
        ok_low = np.nonzero(spent_low[-1] + at_most <= allow)[0]
        low = int(ok_low[-1]) if len(ok_low) else -1
        spent_up.append(spent_up[-1] + (float(at_least[u]) if u <= n else 0.0))
        spent_low.append(spent_low[-1] + (float(at_most[low]) if low >= 0 else 0.0))
        alive = alive.copy()
        alive[u:] = 0
        alive[: low + 1] = 0
        upper.append(u)
        lower.append(low)
        before = n
    return BinomialDesign(
        level, looks, spending, rate, tuple(upper), tuple(lower), tuple(spent_up[1:]), tuple(spent_low[1:]),
        tuple(alive_at), futility, effect,
    )  # fmt: skip


def binomial_crossing(passed: np.ndarray, design: BinomialDesign) -> Crossing:
    """Where the prefixes of `passed` (R, n) bool (each seed's pass, in seed order) cross the design, at
    its looks only. direction (R, n): +1 holds, -1 fails, 0 not yet, as of each seed count; p (R, n): the
    exact two-sided stagewise p-value at p = rate (2 · P(crossing that side at an earlier look, or at this
    look with a count at least as extreme)), 1 before any crossing; t: the pass counts."""
    passed = np.asarray(passed, bool)
    reps, n = passed.shape
    counts = np.cumsum(passed, axis=1)
    direction = np.zeros((reps, n), int)
    p = np.ones((reps, n))
    done = np.zeros(reps, bool)
    for k, look in enumerate(design.looks):
        if look > n:
            break
        c = counts[:, look - 1]
        alive = np.array(design.alive[k])
        up = ~done & (c >= design.upper[k])
        low = ~done & (c <= design.lower[k])
        before_up = design.spent_upper[k - 1] if k else 0.0
        before_low = design.spent_lower[k - 1] if k else 0.0
        tail_up = np.cumsum(alive[::-1])[::-1][np.minimum(c, look)]
        tail_low = np.cumsum(alive)[c]
        direction[up, look - 1 :] = 1
        direction[low, look - 1 :] = -1
        p[up, look - 1 :] = np.minimum(1.0, 2 * (before_up + tail_up[up]))[:, None]
        p[low, look - 1 :] = np.minimum(1.0, 2 * (before_low + tail_low[low]))[:, None]
        done |= up | low
    return Crossing(direction, p, counts.astype(float))


def reachable_look(passes: np.ndarray, n: np.ndarray, design: BinomialDesign) -> np.ndarray:
    """(R,) the first look beyond n seeds at which a cell with `passes` of n can still be decided (if every
    further seed passed, or every one failed); NaN where no look of the design can decide it any more."""
    passes, n = np.atleast_1d(passes), np.atleast_1d(n)
    out = np.full(len(n), np.nan)
    for look, u, low in reversed(list(zip(design.looks, design.upper, design.lower))):
        can = (look > n) & ((passes + look - n >= u) | (passes <= low))
        out = np.where(can, look, out)
    return out


def looks_reachable(passes: int, n: int, design: BinomialDesign) -> int | None:
    """One cell's reachable_look: an int, or None when no look can decide it any more."""
    found = reachable_look(np.array([passes]), np.array([n]), design)[0]
    return None if np.isnan(found) else int(found)


def decision_chance(passes: np.ndarray, n: np.ndarray, design: BinomialDesign, chance: float) -> np.ndarray:
    """(R,) the exact chance that a cell with `passes` of its first n seeds is decided (either side) at a
    later look of the design if each further seed passes with chance `chance`. Computed by convolution over
    the looks, a cell not yet decided carrying its pass count from look to look."""
    # imported here: scipy.stats is slow to import, and a sweep without adaptive seeds never uses it
    from scipy import stats

    passes, n = np.atleast_1d(passes).astype(int), np.atleast_1d(n).astype(int)
    size = design.last + 1
    alive = np.zeros((len(n), size))
    alive[np.arange(len(n)), np.minimum(passes, design.last)] = 1.0
    decided, have, counts = np.zeros(len(n)), n.copy(), np.arange(size)[None, :]
    for look, u, low in zip(design.looks, design.upper, design.lower):
        step = np.maximum(look - have, 0)[:, None]  # further seeds to this look (0 for a look the cell is past)
        pmf = stats.binom.pmf(counts, step, chance)  # (R, size): passes among the further seeds
        grown = np.zeros_like(alive)
        for c in range(size):  # the count so far + the further passes
            grown[:, c:] += alive[:, c : c + 1] * pmf[:, : size - c]
        stop = (look > n)[:, None] & ((counts >= u) | (counts <= low))
        decided += (grown * stop).sum(axis=1)
        alive = np.where(stop, 0.0, grown)
        have = np.maximum(have, look)
    return decided


def effect_chances(design: BinomialDesign) -> tuple[float, float]:
    """The pass chances of a seed `design.effect` sds of a normal law beyond the threshold, on the holding
    and on the failing side (at rate 0.5 and effect 1.4: 0.919 and 0.081)."""
    # imported here: scipy.stats is slow to import, and a sweep without adaptive seeds never uses it
    from scipy import stats

    z = stats.norm.ppf(design.rate)
    return float(stats.norm.cdf(z + design.effect)), float(stats.norm.cdf(z - design.effect))


def best_decision_chance(passes: np.ndarray, look: np.ndarray, design: BinomialDesign) -> np.ndarray:
    """(R,) a cell's chance of a decision by the last look, from `passes` of its first `look` seeds, had it
    the effect the design is meant to find (`design.effect` sds) on the likelier side of the two."""
    return np.max([decision_chance(passes, look, design, p) for p in effect_chances(design)], 0)


def futile(passes: np.ndarray, look: np.ndarray, design: BinomialDesign) -> np.ndarray:
    """(R,) the futility stop: at a look before the last (`passes` of the cell's first `look` seeds), even if
    the cell had the effect the design is meant to find (`design.effect` sds, on either side), its chance of
    a decision by the last look would be below design.futility (conditional power, Lan–Simon–Halperin).
    So a cell with that effect loses at most design.futility of its chance to be decided right. Non-binding:
    it only stops seeds (the cell is reported undecided); every look is judged as before, so it never adds
    a decision and the design's error stays <= design.error. False everywhere when design.futility is None,
    at the last look, or below the first look (look 0)."""
    passes, look = np.atleast_1d(passes), np.atleast_1d(look)
    judged = np.isin(look, design.looks[:-1])
    if design.futility is None or not judged.any():
        return np.zeros(len(look), bool)
    best = np.ones(len(look))
    best[judged] = best_decision_chance(passes[judged], look[judged], design)
    return best < design.futility


def next_look(passes: np.ndarray, n: np.ndarray, passes_at_look: np.ndarray, design: BinomialDesign) -> np.ndarray:
    """(R,) the look a cell with `passes` of n seeds should get seeds up to: reachable_look, or NaN where no
    look can decide it any more or its last look (`passes_at_look` of its first look_at(n) seeds) stops it
    for futility. The one rule both the adaptive rounds (through claims.seeds_needed) and the calibration
    (benchmarks.calibration) give seeds by."""
    n = np.atleast_1d(n)
    stopped = futile(passes_at_look, design.look_at(n), design)
    return np.where(stopped, np.nan, reachable_look(passes, n, design))


def futility_text(passes_at_look: int, look: int, design: BinomialDesign) -> str:
    """Why a cell stopped for futility, e.g. 'stopped for futility at 6 seeds: 3 of 6 pass, ...'."""
    chance = float(best_decision_chance(np.array([passes_at_look]), np.array([look]), design)[0])
    return (
        f"stopped for futility at {look} seeds: {passes_at_look} of {look} pass, so even with a {design.effect:g}-sd "
        f"effect a decision by {design.last} seeds has chance {chance:.3f} < {design.futility:g} "
        "(non-binding: no more seeds, undecided)"
    )


class ToCome(NamedTuple):
    """What a cell that went on is expected to get after the look its seeds are going to: seeds, and the
    looks it goes on from (each a round, a task of its own)."""

    seeds: float
    rounds: float


PRIOR_BOUNDS = (0.05, 20.0)  # a Beta(a, b) pass-rate law: from nearly all-or-nothing cells to a firm rate


@lru_cache(maxsize=256)
def pass_rate_prior(counts: tuple[tuple[int, int], ...]) -> tuple[float, float]:
    """(a, b): the Beta law of a cell's pass rate under which `counts`, (passes, n) of several cells, are most
    likely (beta-binomial maximum likelihood, a and b within PRIOR_BOUNDS; Jeffreys' (1/2, 1/2) for no counts).
    Cells of one sweep mostly pass all or none of their seeds: a and b small, so a cell at 3 of 3 is
    expected to keep passing, yet not surely."""
    # imported here: scipy.stats is slow to import, and a sweep without adaptive seeds never uses it
    from scipy import optimize, stats

    if not counts:
        return 0.5, 0.5
    passes, n = np.array(counts).T
    bounds = [tuple(np.log(PRIOR_BOUNDS))] * 2
    fit = optimize.minimize(lambda x: -stats.betabinom.logpmf(passes, n, *np.exp(x)).sum(), [0.0, 0.0], bounds=bounds)
    a, b = np.exp(fit.x)
    return float(a), float(b)


@lru_cache(maxsize=4096)
def seeds_to_come(passes: int, n: int, design: BinomialDesign, prior: tuple[float, float] = (0.5, 0.5)) -> ToCome:
    """The seeds a cell is expected to get after the next look above n (the one its seeds are now going to,
    one look at a time), and the looks it goes on from: its pass rate drawn from the Beta `prior` updated by
    its `passes` of n (so each further seed's pass chance is the beta-binomial's, given all passes so far),
    at each later look the chance it is still undecided and gets seeds (next_look: reachable, not futile)
    times the seeds to the following look. What the progress bar foresees of the adaptive rounds
    (nnscratch.run.overlap.OverlappedRounds.forecast): a forecast, not a decision."""
    # imported here: scipy.stats is slow to import, and a sweep without adaptive seeds never uses it
    from scipy import stats

    a, b = prior
    later, counts = [look for look in design.looks if look > n], np.arange(design.last + 1)
    alive = np.zeros(design.last + 1)  # chance of each pass count, going on
    alive[passes] = 1.0
    have, seeds, rounds = n, 0.0, 0.0
    for look, following in zip(later, later[1:]):
        step, now = look - have, np.zeros(design.last + 1)
        for c in np.flatnonzero(alive):  # c passes of `have`: the further passes are beta-binomial
            now[c : c + step + 1] += alive[c] * stats.betabinom.pmf(np.arange(step + 1), step, a + c, b + have - c)
        k = design.looks.index(look)
        undecided = (counts < design.upper[k]) & (counts > design.lower[k])
        goes_on = undecided & ~np.isnan(next_look(counts, np.full(len(counts), look), counts, design))
        alive = np.where(goes_on, now, 0.0)
        seeds, rounds = seeds + alive.sum() * (following - look), rounds + alive.sum()
        have = look
    return ToCome(float(seeds), float(rounds))
