"""The learning log's claims (conf/claims.yaml) checked against a sweep's results, with stated confidence.

A check selects runs, computes a measure per run (or per pair of twin runs), and compares it with a
threshold fixed in the claims file. A run's *margin* is its measure minus the threshold, signed so
that a positive margin passes. Runs are grouped into cells (every axis but the seed); a contrast's
margin is the paired difference of twin runs (same seed, same other axes) minus the threshold. A cell

    holds       some prefix of its seeds (seeds in order) crossed the sequential t boundary of the
                claims file's design (nnscratch.stats) on the passing side
    fails       ... on the failing side
    split       its seeds' run outcomes differ (some collapsed, some not): never decided by the mean
    undecided   otherwise: no crossing yet, fewer seeds than the first look, or seeds with no spread

A cell whose seeds all give the same value is decided by that value only where the claims file declares
the measure seed-independent (`seed_independent:`) and every seed confirms it. A check with `rate: r`
is a claim about seeds ("at least r of seeds pass"), decided by Clopper–Pearson bounds. Every cell
reports how many seeds failed and the exact bound on the failure rate. When the cells of a check do
not all agree, only decisions Holm's step-down keeps across the cells are counted (the conditional
split, "k of n cells hold"). The claim's verdict comes from its first check: supported (every cell
holds), refuted (every cell fails), conditional (some hold, some fail, none open: named by the axis that
separates them), inconclusive (no runs, or a cell undecided or split; it names those cells and about
how many seeds would decide each at the spread observed).

Nothing here trains or plots: the report and the sweep's adaptive seeds both read it.
"""

from __future__ import annotations

import hashlib
import math
import operator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import stats

from nnscratch.paths import CONF_DIR
from nnscratch.results import SEED
from nnscratch.stats import (
    Boundary,
    clopper_pearson,
    crossing,
    holm,
    no_spread,
    rate_level,
    seeds_to_cross,
    spending_name,
    t_boundary,
)

OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
STRICT = {"<", ">"}
DEFAULT_CONFIDENCE = 0.95
DEFAULT_CLAIMS = CONF_DIR / "claims.yaml"
CELL_STATS = (
    "mean", "margin", "low", "high", "sd", "seeds", "failed", "fail_rate_low", "fail_rate_high", "outcomes",
    "alone", "p", "decision", "basis", "seeds_needed", "best", "margins", "run_ids",
)  # fmt: skip

METHOD = (
    "The guarantee: for a cell whose true mean margin is exactly on the threshold, the chance that it is ever "
    "called 'holds' or 'fails' is at most {alpha:.0%}, however many rounds of seeds are added and whenever the sweep "
    "is resumed, up to {last} seeds per cell (no cell may go beyond), assuming the seeds' margins are normal "
    "(experiments.calibrate measures heavy tails and collapse mixtures; a strongly skewed cell can exceed it: "
    "the log's reference cell, left-skewed over 100 seeds, was decided 7 % of the time at 10 seeds, "
    "docs/statistics.md). "
    "Each cell's seed-failure range is the exact {level:.0%} Clopper–Pearson range at its final seed count (after "
    "adaptive rounds its coverage is measured by experiments.calibrate, not guaranteed). "
    "How: a run's margin is its measure minus the check's threshold, signed so that positive passes (a contrast: "
    "the paired difference of twin runs on the same seed). A cell's seeds, in seed order, are tested only at the "
    "seed counts {looks} fixed in the claims file before any seed ran, against a group-sequential t boundary "
    "({spending} error spending, found once by a seeded simulation of the pivotal null t statistic): the cell "
    "holds or fails when the prefix of its seeds at some look crossed it (|t| ≥ {critical}). Seeds beyond the "
    "last look reached wait for the next. The interval shown is mean ± that look's critical t · sd / √n. A cell "
    "whose seeds' run outcomes differ (some collapse, some do not) is split: never decided by its mean, it gets "
    "more seeds, and its failure rate is stated (exact Clopper–Pearson). Seeds that all give the same value "
    "decide nothing unless the claims file declares the measure seed-independent. Counts of cells and "
    "conditional splits keep only the decisions that Holm's step-down keeps across the check's cells; supported "
    "and refuted need every cell on its own. 'Seeds needed' is a guide, not a promise."
)


def method_text(boundary: Boundary) -> str:
    """METHOD filled in with the design's numbers."""
    critical = ", ".join(f"{c:.3g} at {n}" for n, c in zip(boundary.looks, boundary.critical))
    return METHOD.format(
        alpha=1 - boundary.level,
        level=boundary.level,
        last=boundary.last,
        looks=", ".join(map(str, boundary.looks)),
        spending=boundary.spending,
        critical=critical,
    )


@dataclass
class CheckResult:
    """One check's verdict, the reason in words, and its numbers per cell (columns: the cell's axes,
    then CELL_STATS)."""

    what: str
    verdict: str
    reason: str
    cells: pd.DataFrame = field(default_factory=pd.DataFrame)
    measure: str = "measure"

    def counts(self) -> dict[str, int]:
        found = self.cells["decision"].value_counts() if not self.cells.empty else {}
        return {d: int(found.get(d, 0)) for d in ("holds", "fails", "undecided", "split")}


@dataclass
class ClaimResult:
    id: str
    title: str
    log: str
    checks: list[CheckResult]

    @property
    def verdict(self) -> str:
        return self.checks[0].verdict


def load_claims(path: Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def claims_for(record: dict, conf_dir: Path = CONF_DIR) -> Path:
    """The claims file a sweep is judged by: its grid's `claims:` (a file in the conf folder), else
    conf/claims.yaml."""
    return Path(conf_dir) / record["claims"] if record.get("claims") else Path(conf_dir) / DEFAULT_CLAIMS.name


def claims_digest(path: Path) -> str:
    """SHA-256 of a claims file's bytes: a sweep's adaptive rounds are bound to the file they used."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------- selecting runs


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def select(runs: pd.DataFrame, where: dict) -> pd.DataFrame | None:
    """Runs matching {axis: value(s)}; None when the sweep lacks one of the axes."""
    if any(axis not in runs.columns for axis in where):
        return None
    mask = np.ones(len(runs), bool)
    for axis, values in where.items():
        mask &= runs[axis].astype(str).isin([str(v) for v in as_list(values)])
    return runs[mask]


def for_dataset(claims: dict, dataset: str) -> dict:
    """The claims with the log's subsets in their selections (data.subset: 60000, 5000) replaced by their
    equivalents on `dataset`, as the file's `subsets:` declares ({dataset: {log's subset: its own}}), so
    that one file judges every grid; unchanged when it declares none for the dataset."""
    mapping = (claims.get("subsets") or {}).get(dataset)
    if not mapping:
        return claims

    def swap(where: dict) -> dict:
        if "data.subset" not in where:
            return where
        values = [mapping.get(v, v) for v in as_list(where["data.subset"])]
        return where | {"data.subset": values if isinstance(where["data.subset"], list) else values[0]}

    def check(c: dict) -> dict:
        return c | {k: swap(c[k]) for k in ("select", "a", "b") if k in c}

    return claims | {"claims": [c | {"checks": [check(x) for x in c["checks"]]} for c in claims["claims"]]}


def at_iteration(runs: pd.DataFrame, histories: pd.DataFrame, iteration: int) -> pd.DataFrame:
    """The runs' axes joined with their history row at `iteration` (runs that never got there drop out)."""
    rows = histories[histories["iteration"] == iteration]
    keep = [c for c in runs.columns if c not in rows.columns or c == "run_id"]
    return runs[keep].merge(rows, on="run_id")


def threshold(expr, frame: pd.DataFrame, named: dict) -> pd.Series:
    """A check's value per run: a number, a named expression (e.g. collapse) or an expression."""
    if isinstance(expr, int | float):
        return pd.Series(float(expr), index=frame.index)
    return frame.eval(named.get(expr, expr))


def signed(measure: pd.Series, value: pd.Series, op: str) -> pd.Series:
    """Margin: how far the measure is on the passing side of the value."""
    return measure - value if op in (">=", ">") else value - measure


# ---------------------------------------------------------------- per-run margins


def per_run(check: dict, runs: pd.DataFrame, histories: pd.DataFrame, named: dict, axes: list[str]):
    """The runs (or twin pairs) looked at, with columns measure, margin and run_ids; None if there are none."""
    source = runs if "at" not in check else at_iteration(runs, histories, check["at"])
    op = check.get("op", ">=")
    if check["kind"] == "threshold":
        frame = select(source, check["select"])
        if frame is None or frame.empty:
            return None
        frame = frame.assign(measure=frame.eval(check["measure"]), run_ids=frame["run_id"].map(lambda r: [r]))
    elif check["kind"] == "contrast":
        frame = contrast(check, source, axes)
    elif check["kind"] == "reach":
        frame = reach(check, runs, histories)
        op = ">="
    else:
        raise ValueError(f"unknown check kind {check['kind']!r} (allowed: threshold, contrast, reach)")
    if frame is None:
        return None
    return frame.assign(margin=signed(frame["measure"], threshold(check["value"], frame, named), op))


def contrast(check: dict, source: pd.DataFrame, axes: list[str]) -> pd.DataFrame | None:
    """Each run of selection `a` paired with its twin in `b`: same seed and same other axes."""
    a, b = select(source, check["a"]), select(source, check["b"])
    if a is None or b is None or a.empty or b.empty:
        return None
    differing = [k for k in check["a"] if str(check["a"][k]) != str(check["b"].get(k))]
    axes = [c for c in axes if c in source.columns and c not in differing]
    b = b.rename(columns={c: f"b_{c}" for c in b.columns if c not in axes})
    pairs = a.merge(b, on=axes)
    if pairs.empty:
        return None
    return pairs.assign(
        measure=pairs.eval(check["measure"].replace("b.", "b_")),
        run_ids=[[x, y] for x, y in zip(pairs["run_id"], pairs["b_run_id"])],
    )


def reach(check: dict, runs: pd.DataFrame, histories: pd.DataFrame) -> pd.DataFrame | None:
    """Per run, the highest value of the measure within `within` iterations (measure) and the first
    iteration at which it reached `value` (first; NaN if never)."""
    frame = select(runs, check["select"])
    if frame is None or frame.empty:
        return None
    mine = histories[histories["run_id"].isin(frame["run_id"]) & (histories["iteration"] <= check["within"])]
    values = mine.assign(m=mine.eval(check["measure"]))
    best = values.groupby("run_id")["m"].max()
    first = values[values["m"] >= check["value"]].groupby("run_id")["iteration"].min()
    return frame.assign(
        measure=frame["run_id"].map(best),
        first=frame["run_id"].map(first),
        run_ids=frame["run_id"].map(lambda r: [r]),
    )


# ---------------------------------------------------------------- cells: boundary, outcomes, decisions

HOLDS, FAILS, UNDECIDED, SPLIT = 1, -1, 0, 2
DECISIONS = {HOLDS: "holds", FAILS: "fails", UNDECIDED: "undecided", SPLIT: "split"}
OPEN = ("undecided", "split")  # decisions that more seeds may change: adaptive rounds feed these cells
DEFAULT_DESIGN = {"looks": [3, 6, 10], "spending": {"power": 2}}
DESIGN_EXAMPLE = "sequential: {looks: [3, 6, 10], spending: {power: 2}}"


def design(claims: dict) -> Boundary:
    """The claims file's group-sequential design (`sequential: {looks, spending}`) at its confidence. The
    older form {first_look: a, max_seeds: b} is the Pocock design looking at every seed count a..b."""
    given = claims.get("sequential") or {}
    if "looks" not in given and {"first_look", "max_seeds"} & set(given):
        first, last = given.get("first_look", 3), given.get("max_seeds", 20)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (first, last)) or not 2 <= first <= last:
            raise ValueError(
                f"claims file: sequential needs whole numbers 2 <= first_look <= max_seeds, got {first!r}, {last!r}"
                f" (or looks fixed in advance: {DESIGN_EXAMPLE})"
            )
        given = {"looks": list(range(first, last + 1)), "spending": "pocock"}
    given = DEFAULT_DESIGN | given
    looks = given["looks"]
    if not (isinstance(looks, list) and looks and all(isinstance(n, int) and not isinstance(n, bool) for n in looks)):
        raise ValueError(f"claims file: sequential.looks must list seed counts, not {looks!r}: {DESIGN_EXAMPLE}")
    return t_boundary(confidence(claims), tuple(looks), spending_name(given["spending"]))


def interval(margins: np.ndarray, boundary: Boundary) -> tuple[float, float]:
    """The design's interval of the mean margin at this look: mean ± critical t · sd / sqrt(n); unbounded
    before the first look or when the seeds have no spread (t undefined)."""
    n, mean = len(margins), float(np.mean(margins))
    if n < boundary.first or no_spread(margins):
        return -math.inf, math.inf
    half = float(boundary.critical_at(n)) * float(np.std(margins, ddof=1)) / math.sqrt(n)
    return mean - half, mean + half


def decide(low: float, high: float, strict: bool) -> str:
    if low > 0 or (low == 0 and not strict):
        return "holds"
    if high < 0 or (high == 0 and strict):
        return "fails"
    return "undecided"


def seeds_needed(mean: float, sd: float, boundary: Boundary, n: int) -> int | None:
    """Smallest seed count (> n, within the design) whose critical t this mean and sd would reach."""
    found = seeds_to_cross(np.array([mean]), np.array([sd]), np.array([n]), boundary)[0]
    return None if np.isnan(found) else int(found)


def seed_outcomes(group: pd.DataFrame) -> pd.Series:
    """Each seed's run outcome (ok / collapsed / diverged); for a contrast both sides', 'a / b'."""
    if "outcome" not in group.columns:
        return pd.Series("ok", index=group.index)
    out = group["outcome"].astype(str)
    return out + " / " + group["b_outcome"].astype(str) if "b_outcome" in group.columns else out


def declared_independent(check: dict, group: pd.DataFrame) -> bool:
    """The claims file declares this cell's measure seed-independent (`seed_independent: true`, or a
    selection {axis: value(s)} its runs all match)."""
    where = check.get("seed_independent")
    if where is None or where is False:
        return False
    if where is True:
        return True
    chosen = select(group, where)
    return chosen is not None and len(chosen) == len(group)


def mean_decision(margins: np.ndarray, boundary: Boundary) -> tuple[int, float]:
    """(direction crossed by some prefix: +1 / -1 / 0, sequential p-value) of one cell's seeds in order."""
    cross = crossing(margins[None, :], boundary)
    return int(cross.direction[0, -1]), float(cross.p[0, -1])


def rate_decision(passed: int, n: int, rate: float, boundary: Boundary) -> tuple[int, float]:
    """(+1 / -1 / 0, p-value) for 'at least `rate` of seeds pass', by Clopper–Pearson at stats.rate_level."""
    low, high = clopper_pearson(passed, n, rate_level(boundary))
    p = min(1.0, stats.binomtest(passed, n, rate).pvalue * len(boundary.looks))
    return (HOLDS if low >= rate else FAILS if high < rate else UNDECIDED), p


def cell_codes(direction: np.ndarray, split: np.ndarray) -> np.ndarray:
    """Decision codes of cells judged by their mean (any shape): split wherever the seeds' outcomes differ,
    whatever the mean says; else the boundary's direction (HOLDS, FAILS, or UNDECIDED = 0)."""
    return np.where(split, SPLIT, direction)


def alone(margins: np.ndarray, outcomes: pd.Series, check: dict, independent: bool, boundary, strict):
    """(decision code, p-value, basis) of one cell before Holm."""
    n = len(margins)
    if independent and no_spread(margins):  # every seed passes or every seed fails: a rate of 1 or 0 too
        code = {"holds": HOLDS, "fails": FAILS, "undecided": UNDECIDED}[decide(margins[0], margins[0], strict)]
        return code, 0.0 if code else 1.0, "seed-independent (declared; every seed gave the same value)"
    if check.get("rate") is not None:  # judged at the last look: seeds beyond it wait for the next
        seen = margins[: int(boundary.look_at(n))]
        passed = int((seen > 0).sum() if strict else (seen >= 0).sum())
        if len(seen) == 0:
            return UNDECIDED, 1.0, "rate of passing seeds (fewer seeds than the first look)"
        return (*rate_decision(passed, len(seen), float(check["rate"]), boundary), "rate of passing seeds")
    direction, p = mean_decision(margins, boundary)
    code = int(cell_codes(direction, outcomes.nunique() > 1))
    if code == SPLIT:
        return SPLIT, 1.0, "seeds split between outcomes"
    if no_spread(margins):
        return UNDECIDED, 1.0, "no spread (every seed gave the same value; not declared seed-independent)"
    return code, p, "sequential t boundary"


def cell_row(group: pd.DataFrame, check: dict, boundary: Boundary, strict: bool) -> dict:
    group = group.sort_values(SEED) if SEED in group.columns else group
    margins = group["margin"].to_numpy(float)
    n, outcomes = len(margins), seed_outcomes(group)
    low, high = interval(margins, boundary)
    sd = float(np.std(margins, ddof=1)) if n > 1 else float("nan")
    code, p, basis = alone(margins, outcomes, check, declared_independent(check, group), boundary, strict)
    failed = int((margins <= 0).sum() if strict else (margins < 0).sum())
    fail_low, fail_high = clopper_pearson(failed, n, boundary.level)
    return {
        "mean": float(group["measure"].mean()),
        "margin": float(margins.mean()),
        "low": low,
        "high": high,
        "sd": sd,
        "seeds": n,
        "failed": failed,
        "fail_rate_low": float(fail_low),
        "fail_rate_high": float(fail_high),
        "outcomes": ", ".join(f"{k} {v}" for k, v in outcomes.value_counts().items()),
        "alone": DECISIONS[code],
        "p": p,
        "decision": DECISIONS[code],
        "basis": basis,
        "seeds_needed": seeds_needed(float(margins.mean()), sd, boundary, n) if code in (UNDECIDED, SPLIT) else None,
        "best": float(group["measure"].max()),
        "margins": [float(x) for x in margins],
        "run_ids": sorted({r for ids in group["run_ids"] for r in ids}),
    }


def check_decisions(codes: np.ndarray, p: np.ndarray, level: float) -> np.ndarray:
    """(R, m) decisions of a check's m cells alone -> as reported. When every cell alone holds (or every
    cell fails) each cell was tested at `level` and all must pass: kept. Otherwise the cells are counted
    and split one by one, so a decision stands only if Holm's step-down rejects it at the family level."""
    codes = np.atleast_2d(codes)
    unanimous = (codes == codes[:, :1]).all(axis=1) & np.isin(codes[:, 0], (HOLDS, FAILS))
    decided = np.isin(codes, (HOLDS, FAILS))
    kept = holm(np.where(decided, p, 1.0), level) & decided
    adjusted = np.where(decided & ~kept, UNDECIDED, codes)
    return np.where(unanimous[:, None], codes, adjusted)


def cell_table(frame: pd.DataFrame, axes: list[str], check: dict, boundary: Boundary, strict: bool) -> pd.DataFrame:
    """One row per cell (the axes that vary within the check's runs, seed excluded) with CELL_STATS."""
    keys = [a for a in axes if a != SEED and a in frame.columns and frame[a].nunique(dropna=False) > 1]
    groups = [((), frame)] if not keys else list(frame.groupby(keys, dropna=False))
    rows = []
    for key, group in groups:
        where = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        if len(group) > boundary.last:
            raise ValueError(
                f"claims: check '{check['what']}', cell {where or 'the only cell'} has {len(group)} seeds, more than "
                f"the sequential design's last look {boundary.last}; add a later look to sequential.looks in the "
                "claims file"
            )
        rows.append(where | cell_row(group, check, boundary, strict))
    cells = pd.DataFrame(rows)
    codes = cells["alone"].map({v: k for k, v in DECISIONS.items()}).to_numpy()
    final = check_decisions(codes[None, :], cells["p"].to_numpy(float)[None, :], boundary.level)[0]
    return cells.assign(decision=[DECISIONS[c] for c in final])


def cell_name(cells: pd.DataFrame, i: int) -> str:
    keys = [c for c in cells.columns if c not in CELL_STATS]
    return ", ".join(f"{k}={cells.at[i, k]}" for k in keys) or "the only cell"


# ---------------------------------------------------------------- verdicts


def separating_axis(cells: pd.DataFrame, holds: pd.Series) -> str | None:
    """'holds for A=x; not for A=y' if one axis's levels split the cells cleanly, else None."""
    for axis in [c for c in cells.columns if c not in CELL_STATS]:
        by_level = holds.groupby(cells[axis].astype(str)).agg(["all", "any"])
        if ((by_level["all"]) | (~by_level["any"])).all() and by_level["all"].any() and not by_level["all"].all():
            yes = ", ".join(by_level.index[by_level["all"]])
            no = ", ".join(by_level.index[~by_level["any"]])
            return f"holds for {axis} = {yes}; not for {axis} = {no}"
    return None


def margin_text(cells: pd.DataFrame, i: int) -> str:
    low, high = cells.at[i, "low"], cells.at[i, "high"]
    span = "no interval" if not np.isfinite(low) else f"[{low:+.3g}, {high:+.3g}]"
    return f"margin {cells.at[i, 'margin']:+.3g} {span}; {outcome_text(cells, i)}"


def outcome_text(cells: pd.DataFrame, i: int) -> str:
    """What the seeds rule out, e.g. '0 of 3 seeds failed (failure rate <= 0.71); outcomes: collapsed 3'."""
    k, n = int(cells.at[i, "failed"]), int(cells.at[i, "seeds"])
    low, high = cells.at[i, "fail_rate_low"], cells.at[i, "fail_rate_high"]
    bound = f"failure rate ≤ {high:.2f}" if k == 0 else f"failure rate {low:.2f}–{high:.2f}"
    return f"{k} of {n} seeds failed ({bound}); outcomes: {cells.at[i, 'outcomes']}"


def undecided_text(cells: pd.DataFrame) -> str:
    """The check's undecided or split cells, grouped by why they are open: each reason is said once,
    then its cells with their numbers (said once too when every cell of the reason has the same)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for i in cells.index[cells["decision"].isin(OPEN)]:
        needed = cells.at[i, "seeds_needed"]
        guess = (
            "within the design's seeds the mean would not clear the boundary at this spread"
            if needed is None or pd.isna(needed)
            else f"≈ {int(needed)} seeds would decide it at the observed spread"
        )
        why = cells.at[i, "basis"] if cells.at[i, "alone"] in OPEN else "not kept by Holm across the cells"
        numbers = f"{margin_text(cells, i)}; {cells.at[i, 'seeds']} seeds; {guess}"
        groups.setdefault(f"{cells.at[i, 'decision']}: {why}", []).append((cell_name(cells, i), numbers))
    return "; ".join(f"{why} — {cells_said(found)}" for why, found in groups.items())


def cells_said(found: list[tuple[str, str]]) -> str:
    """'a (numbers); b (numbers)', or 'n cells, each numbers: a · b' when their numbers are the same."""
    if len(found) > 1 and len({numbers for _, numbers in found}) == 1:
        return f"{len(found)} cells, each {found[0][1]}: " + " · ".join(name for name, _ in found)
    return "; ".join(f"{name} ({numbers})" for name, numbers in found)


def verdict(cells: pd.DataFrame) -> tuple[str, str]:
    """(verdict, reason) from the cell table."""
    d = cells["decision"]
    n = len(cells)
    if d.isin(OPEN).any():
        return "inconclusive", f"{d.isin(OPEN).sum()} of {n} cells undecided or split: {undecided_text(cells)}"
    weakest = cells["margin"].idxmin() if (d == "holds").all() else cells["margin"].idxmax()
    if (d == "holds").all():
        return (
            "supported",
            f"holds in all {n} cells; weakest: {cell_name(cells, weakest)}, {margin_text(cells, weakest)}",
        )
    if (d == "fails").all():
        return "refuted", f"fails in all {n} cells; closest: {cell_name(cells, weakest)}, {margin_text(cells, weakest)}"
    holds = (d == "holds").reset_index(drop=True)
    why = separating_axis(cells.reset_index(drop=True), holds)
    return "conditional", why or f"holds in {holds.sum()} of {n} cells, fails in {n - holds.sum()}"


def run_check(
    check: dict, runs: pd.DataFrame, histories: pd.DataFrame, named: dict, axes: list[str], boundary: Boundary
) -> CheckResult:
    frame = per_run(check, runs, histories, named, axes)
    if frame is None or frame["margin"].isna().all():
        return CheckResult(check["what"], "inconclusive", "the sweep has no runs for this check")
    frame = frame[frame["margin"].notna()]
    strict = check.get("op", ">=") in STRICT and check["kind"] != "reach"
    cells = cell_table(frame, [a for a in axes if a in frame.columns], check, boundary, strict)
    label = check["measure"] + (f" at iteration {check['at']}" if "at" in check else "")
    if check["kind"] == "reach":
        label = f"highest {check['measure']} within {check['within']} iterations (target {check['value']})"
    result = CheckResult(check["what"], *verdict(cells), cells, label)
    if check["kind"] == "reach":
        reached = frame["first"].dropna()
        result.reason += f"; {len(reached)} of {len(frame)} runs reached {check['value']}" + (
            f" (first at iteration {int(reached.min())})" if len(reached) else ""
        )
    return result


def confidence(claims: dict) -> float:
    level = float(claims.get("confidence", DEFAULT_CONFIDENCE))
    if not 0 < level < 1:
        raise ValueError(f"claims file: confidence must be between 0 and 1 (e.g. 0.95), got {level}")
    return level


def evaluate(claims: dict, runs: pd.DataFrame, histories: pd.DataFrame, axes: list[str]) -> list[ClaimResult]:
    """Every claim of the claims file against one sweep's runs (results.csv) and histories."""
    runs = runs[runs["status"] == "finished"]
    boundary = design(claims)
    named = {k: v for k, v in claims.items() if isinstance(v, str)}  # named expressions, e.g. collapse
    return [
        ClaimResult(
            c["id"],
            c["title"],
            c.get("log", ""),
            [run_check(ch, runs, histories, named, axes, boundary) for ch in c["checks"]],
        )
        for c in claims["claims"]
    ]


def undecided_runs(results_: list[ClaimResult]) -> list[tuple[str, str, list[str], int | None]]:
    """(claim id, the check and cell in words, run ids feeding it, seeds estimated to decide it) of every
    undecided or split cell of every check."""
    out = []
    for claim in results_:
        for check in claim.checks:
            if check.cells.empty:
                continue
            for i in check.cells.index[check.cells["decision"].isin(OPEN)]:
                needed = check.cells.at[i, "seeds_needed"]
                needed = None if needed is None or pd.isna(needed) else int(needed)
                out.append(
                    (claim.id, f"{check.what}: {cell_name(check.cells, i)}", check.cells.at[i, "run_ids"], needed)
                )
    return out
