"""The learning log's claims (conf/claims.yaml) checked against a sweep's results.

A check selects runs, computes a measure per run (or per pair of twin runs), and asks whether it
passes a threshold fixed in the claims file. Runs are grouped into cells (all axes but the seed);
a cell holds when every seed passes. The verdict says how the cells came out:

    supported     every cell holds
    refuted       no cell holds
    conditional   some cells hold: named by the axis whose levels separate them
    inconclusive  no runs to look at, or the seeds disagree in more than a third of the cells
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
SEED = "seed"


@dataclass
class CheckResult:
    """One check's verdict, the reason in words, and its numbers per cell."""

    what: str
    verdict: str
    reason: str
    cells: pd.DataFrame = field(default_factory=pd.DataFrame)
    measure: str = "measure"  # cell axes, mean, std, passed, seeds


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


# ---------------------------------------------------------------- per-run measures


def per_run(check: dict, runs: pd.DataFrame, histories: pd.DataFrame, named: dict, axes: list[str]):
    """The runs (or twin pairs) looked at, with columns `measure` and `passed`; None if there are none."""
    source = runs if "at" not in check else at_iteration(runs, histories, check["at"])
    op = OPS.get(check.get("op", ">="))
    if check["kind"] == "threshold":
        frame = select(source, check["select"])
        if frame is None or frame.empty:
            return None
        frame = frame.assign(measure=frame.eval(check["measure"]))
        return frame.assign(passed=op(frame["measure"], threshold(check["value"], frame, named)))
    if check["kind"] == "contrast":
        return contrast(check, source, named, op, axes)
    if check["kind"] == "reach":
        frame = select(runs, check["select"])
        if frame is None or frame.empty:
            return None
        mine = histories[histories["run_id"].isin(frame["run_id"])]
        first = first_reaching(mine, check["measure"], check["value"])
        best = mine.assign(m=mine.eval(check["measure"])).groupby("run_id")["m"].max()
        frame = frame.assign(measure=frame["run_id"].map(first), best=frame["run_id"].map(best))
        return frame.assign(passed=frame["measure"] <= check["within"])
    raise ValueError(f"unknown check kind {check['kind']!r} (allowed: threshold, contrast, reach)")


def contrast(check: dict, source: pd.DataFrame, named: dict, op, axes: list[str]):
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
    pairs = pairs.assign(measure=pairs.eval(check["measure"].replace("b.", "b_")))
    return pairs.assign(passed=op(pairs["measure"], threshold(check["value"], pairs, named)))


def first_reaching(histories: pd.DataFrame, measure: str, value: float) -> pd.Series:
    """Per run, the first iteration at which `measure` >= value (NaN if never)."""
    hit = histories[histories.eval(measure) >= value]
    return hit.groupby("run_id")["iteration"].min()


# ---------------------------------------------------------------- verdicts


def cell_table(frame: pd.DataFrame, axes: list[str]) -> pd.DataFrame:
    """Per cell: mean and std of the measure over seeds, seeds passed / seeds."""
    keys = [a for a in axes if a != SEED and frame[a].nunique(dropna=False) > 1] or ["_all"]
    frame = frame.assign(_all="all")
    grouped = frame.groupby(keys, dropna=False)
    extra = {"best": ("best", "max")} if "best" in frame else {}  # reach: the highest value any seed got to
    cells = grouped.agg(
        mean=("measure", "mean"), std=("measure", "std"), passed=("passed", "sum"), seeds=("passed", "size"), **extra
    ).reset_index()
    return cells.drop(columns=["_all"], errors="ignore")


def separating_axis(cells: pd.DataFrame, holds: pd.Series) -> str | None:
    """'holds for A=x; not for A=y' if one axis's levels split the cells cleanly, else None."""
    for axis in [c for c in cells.columns if c not in ("mean", "std", "passed", "seeds")]:
        by_level = holds.groupby(cells[axis].astype(str)).agg(["all", "any"])
        if ((by_level["all"]) | (~by_level["any"])).all() and by_level["all"].any() and not by_level["all"].all():
            yes = ", ".join(by_level.index[by_level["all"]])
            no = ", ".join(by_level.index[~by_level["any"]])
            return f"holds for {axis} = {yes}; not for {axis} = {no}"
    return None


def verdict(cells: pd.DataFrame) -> tuple[str, str]:
    """(verdict, reason) from the cell table."""
    holds, fails = cells["passed"] == cells["seeds"], cells["passed"] == 0
    split = ~(holds | fails)
    n = len(cells)
    if split.sum() * 3 > n:
        return "inconclusive", f"seeds disagree in {split.sum()} of {n} cells"
    decided = cells[~split]
    if holds.sum() == len(decided):
        return "supported", f"holds in all {holds.sum()} decided cells of {n}"
    if holds.sum() == 0:
        return "refuted", f"fails in all {fails.sum()} decided cells of {n}"
    why = separating_axis(decided.reset_index(drop=True), holds[~split].reset_index(drop=True))
    return "conditional", why or f"holds in {holds.sum()} of {n} cells, fails in {fails.sum()}"


def run_check(check: dict, runs: pd.DataFrame, histories: pd.DataFrame, named: dict, axes: list[str]) -> CheckResult:
    frame = per_run(check, runs, histories, named, axes)
    if frame is None:
        return CheckResult(check["what"], "inconclusive", "the sweep has no runs for this check")
    cells = cell_table(frame, [a for a in axes if a in frame.columns])
    label = check["measure"] + (f" at iteration {check['at']}" if "at" in check else "")
    if check["kind"] == "reach":
        label = f"first iteration with {check['measure']} >= {check['value']}"
    result = CheckResult(check["what"], *verdict(cells), cells, label)
    if "best" in cells:
        result.reason += f"; highest {check['measure']} reached: {cells['best'].max():.4f}"
    return result


def evaluate(claims: dict, runs: pd.DataFrame, histories: pd.DataFrame, axes: list[str]) -> list[ClaimResult]:
    """Every claim of the claims file against one sweep's runs (results.csv) and histories."""
    runs = runs[runs["status"] == "finished"]
    named = {k: v for k, v in claims.items() if k != "claims"}
    return [
        ClaimResult(
            c["id"], c["title"], c.get("log", ""), [run_check(ch, runs, histories, named, axes) for ch in c["checks"]]
        )
        for c in claims["claims"]
    ]
