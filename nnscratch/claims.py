"""The learning log's claims (conf/claims.yaml) checked against a sweep's results, with stated confidence.

A check selects runs, computes a measure per run (or per pair of twin runs), and compares it with a
threshold fixed in the claims file. A run's *margin* is its measure minus the threshold, signed so
that a positive margin passes. Runs are grouped into cells (every axis but the seed); a cell's
estimate is its mean margin over seeds, with a Student-t confidence interval at the file's
`confidence` level (scipy.stats.t with n - 1 degrees of freedom). A contrast's margin is the paired
difference of twin runs (same seed, same other axes) minus the threshold, so its interval is the
paired t interval. A cell

    holds       its interval lies entirely on the passing side of the threshold
    fails       entirely on the failing side
    undecided   the interval straddles the threshold, or the cell has a single seed

A cell whose seeds all give the same margin (e.g. every seed collapses to 0.1135) is decided by that
value. The claim's verdict comes from its first check: supported (every cell holds), refuted (every
cell fails), conditional (some hold, some fail, none undecided: named by the axis that separates
them), inconclusive (no runs, or a cell undecided; it names those cells and about how many seeds
would decide each at the spread observed).

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

OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
STRICT = {"<", ">"}
SEED = "seed"
DEFAULT_CONFIDENCE = 0.95
DEFAULT_CLAIMS = CONF_DIR / "claims.yaml"
CELL_STATS = ("mean", "margin", "low", "high", "sd", "seeds", "decision", "seeds_needed", "best", "margins", "run_ids")

METHOD = (
    "A run's margin is its measure minus the check's threshold, signed so that a positive margin passes; "
    "for a contrast it is the paired difference of twin runs (same seed, same other axes) minus the threshold. "
    "Per cell (one combination of every axis but the seed) the estimate is the mean margin over seeds and its "
    "{level:.0%} confidence interval is Student's t with n − 1 degrees of freedom (scipy.stats.t): exact for "
    "normally distributed margins, and honest at 3 seeds because it is wide there (t = 4.30 at 95 %). A cell holds "
    "when the whole interval passes, fails when the whole interval fails, and is undecided when it straddles the "
    "threshold or has one seed; a cell whose seeds all give the same margin is decided by that value. For a 'reach' "
    "check the measure is the highest value reached within the iteration budget, so a run that never reaches the "
    "target has a negative margin. 'Seeds needed' is the smallest n at which the interval half-width, at the observed "
    "mean and standard deviation, would fall below the mean's distance from the threshold — a guide, not a promise."
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
        return {d: int(found.get(d, 0)) for d in ("holds", "fails", "undecided")}


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


# ---------------------------------------------------------------- cells and their intervals


def interval(margins: np.ndarray, level: float) -> tuple[float, float]:
    """Student-t confidence interval of the mean margin; a point where every seed agrees; unbounded
    with a single seed."""
    n, mean = len(margins), float(np.mean(margins))
    if n < 2:
        return -math.inf, math.inf
    sd = float(np.std(margins, ddof=1))
    if sd == 0:
        return mean, mean
    low, high = stats.t.interval(level, n - 1, loc=mean, scale=sd / math.sqrt(n))
    return float(low), float(high)


def decide(low: float, high: float, strict: bool) -> str:
    if low > 0 or (low == 0 and not strict):
        return "holds"
    if high < 0 or (high == 0 and strict):
        return "fails"
    return "undecided"


def seeds_needed(mean: float, sd: float, level: float, limit: int = 10_000) -> int | None:
    """Smallest n whose t interval at this mean and sd would exclude the threshold; None if none would."""
    if mean == 0 or not np.isfinite(sd):
        return None
    if sd == 0:
        return 2
    q = (1 + level) / 2
    for n in range(2, limit + 1):
        if stats.t.ppf(q, n - 1) * sd / math.sqrt(n) < abs(mean):
            return n
    return None


def cell_row(group: pd.DataFrame, level: float, strict: bool) -> dict:
    margins = group["margin"].to_numpy(float)
    low, high = interval(margins, level)
    sd = float(np.std(margins, ddof=1)) if len(margins) > 1 else float("nan")
    decision = decide(low, high, strict)
    return {
        "mean": float(group["measure"].mean()),
        "margin": float(margins.mean()),
        "low": low,
        "high": high,
        "sd": sd,
        "seeds": len(margins),
        "decision": decision,
        "seeds_needed": seeds_needed(float(margins.mean()), sd, level) if decision == "undecided" else None,
        "best": float(group["measure"].max()),
        "margins": [float(x) for x in margins],
        "run_ids": sorted({r for ids in group["run_ids"] for r in ids}),
    }


def cell_table(frame: pd.DataFrame, axes: list[str], level: float, strict: bool) -> pd.DataFrame:
    """One row per cell (the axes that vary within the check's runs, seed excluded) with CELL_STATS."""
    keys = [a for a in axes if a != SEED and a in frame.columns and frame[a].nunique(dropna=False) > 1]
    if not keys:
        return pd.DataFrame([cell_row(frame, level, strict)])
    rows = [
        dict(zip(keys, key if isinstance(key, tuple) else (key,))) | cell_row(group, level, strict)
        for key, group in frame.groupby(keys, dropna=False)
    ]
    return pd.DataFrame(rows)


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
    span = "no interval (one seed)" if not np.isfinite(low) else f"[{low:+.3g}, {high:+.3g}]"
    return f"margin {cells.at[i, 'margin']:+.3g} {span}"


def undecided_text(cells: pd.DataFrame) -> str:
    parts = []
    for i in cells.index[cells["decision"] == "undecided"]:
        needed = cells.at[i, "seeds_needed"]
        guess = (
            "more seeds would not decide it at this mean (it sits on the threshold)"
            if needed is None or pd.isna(needed)
            else f"≈ {int(needed)} seeds would decide it at the observed spread"
        )
        parts.append(f"{cell_name(cells, i)} ({margin_text(cells, i)}, {cells.at[i, 'seeds']} seeds; {guess})")
    return "; ".join(parts)


def verdict(cells: pd.DataFrame) -> tuple[str, str]:
    """(verdict, reason) from the cell table."""
    d = cells["decision"]
    n = len(cells)
    if (d == "undecided").any():
        return "inconclusive", f"{(d == 'undecided').sum()} of {n} cells undecided: {undecided_text(cells)}"
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
    check: dict, runs: pd.DataFrame, histories: pd.DataFrame, named: dict, axes: list[str], level: float
) -> CheckResult:
    frame = per_run(check, runs, histories, named, axes)
    if frame is None or frame["margin"].isna().all():
        return CheckResult(check["what"], "inconclusive", "the sweep has no runs for this check")
    frame = frame[frame["margin"].notna()]
    strict = check.get("op", ">=") in STRICT and check["kind"] != "reach"
    cells = cell_table(frame, [a for a in axes if a in frame.columns], level, strict)
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
    level = confidence(claims)
    named = {k: v for k, v in claims.items() if isinstance(v, str)}  # named expressions, e.g. collapse
    return [
        ClaimResult(
            c["id"],
            c["title"],
            c.get("log", ""),
            [run_check(ch, runs, histories, named, axes, level) for ch in c["checks"]],
        )
        for c in claims["claims"]
    ]


def undecided_runs(results_: list[ClaimResult]) -> list[tuple[str, str, list[str], int | None]]:
    """(claim id, the check and cell in words, run ids feeding it, seeds estimated to decide it) of every
    undecided cell of every check."""
    out = []
    for claim in results_:
        for check in claim.checks:
            if check.cells.empty:
                continue
            for i in check.cells.index[check.cells["decision"] == "undecided"]:
                needed = check.cells.at[i, "seeds_needed"]
                needed = None if needed is None or pd.isna(needed) else int(needed)
                out.append(
                    (claim.id, f"{check.what}: {cell_name(check.cells, i)}", check.cells.at[i, "run_ids"], needed)
                )
    return out
