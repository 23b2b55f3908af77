"""Every claim of a claims file against a sweep's runs: each check's cells, its verdict and reason, and the
cells still open (which the sweep's adaptive rounds feed with seeds)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from nnscratch.claims.cells import OPEN, Judging, cell_name, cell_statistics
from nnscratch.claims.design import design, design_for
from nnscratch.claims.selection import STRICT, per_run
from nnscratch.claims.wording import family_text, margin_text, separating_axis, undecided_text
from nnscratch.stats import BinomialDesign


@dataclass
class CheckResult:
    """One check's verdict, the reason in words, and its numbers per cell (columns: the cell's axes,
    then CELL_STATS)."""

    what: str
    verdict: str
    reason: str
    cells: pd.DataFrame = field(default_factory=pd.DataFrame)
    measure: str = "measure"
    guarantee: str = ""  # what a decision of this check states and its error, in one line

    def counts(self) -> dict[str, int]:
        found = self.cells["decision"].value_counts() if not self.cells.empty else {}
        return {d: int(found.get(d, 0)) for d in ("holds", "fails", "undecided", "split")}


@dataclass
class ClaimResult:
    id: str
    title: str
    log: str
    checks: list[CheckResult]
    family: str = ""  # what this claim's error means beside the file's other claims
    exploratory: bool = False  # judged by a claims file other than the one the sweep recorded

    @property
    def verdict(self) -> str:
        return self.checks[0].verdict

    @property
    def guarantee(self) -> str:
        """What the verdict states and its error, e.g. 'rate of passing seeds vs 0.5, any law ..., ≤ 0.043'."""
        label = "EXPLORATORY (claims file differs from the sweep's): " if self.exploratory else ""
        return label + self.checks[0].guarantee


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
    check: dict, runs: pd.DataFrame, histories: pd.DataFrame, named: dict, axes: list[str], base: BinomialDesign
) -> CheckResult:
    frame = per_run(check, runs, histories, named, axes)
    if frame is None or frame["margin"].isna().all():
        return CheckResult(check["what"], "inconclusive", "the sweep has no runs for this check")
    frame = frame[frame["margin"].notna()]
    strict = check.get("op", ">=") in STRICT and check["kind"] != "reach"
    test = design_for(check, base)
    cells = cell_statistics(frame, [a for a in axes if a in frame.columns], Judging(check, test, strict), histories)
    label = check["measure"] + (f" at iteration {check['at']}" if "at" in check else "")
    if check["kind"] == "reach":
        label = f"highest {check['measure']} within {check['within']} iterations (target {check['value']})"
    result = CheckResult(check["what"], *verdict(cells), cells, label, test.guarantee())
    if check["kind"] == "reach":
        reached = frame["first"].dropna()
        result.reason += f"; {len(reached)} of {len(frame)} runs reached {check['value']}" + (
            f" (first at iteration {int(reached.min())})" if len(reached) else ""
        )
    return result


def evaluate(claims: dict, runs: pd.DataFrame, histories: pd.DataFrame, axes: list[str]) -> list[ClaimResult]:
    """Every claim of the claims file against one sweep's runs (results.csv) and histories."""
    runs = runs[runs["status"] == "finished"]
    base = design(claims)
    named = {k: v for k, v in claims.items() if isinstance(v, str)}  # named expressions, e.g. collapse
    family = family_text(base.error, len(claims["claims"]))
    return [
        ClaimResult(
            c["id"],
            c["title"],
            c.get("log", ""),
            [run_check(ch, runs, histories, named, axes, base) for ch in c["checks"]],
            family,
            bool(claims.get("exploratory")),
        )
        for c in claims["claims"]
    ]


def undecided_runs(results_: list[ClaimResult]) -> list[tuple[str, str, list[str], int | None, tuple[int, int]]]:
    """(claim id, the check and cell in words, run ids feeding it, seeds estimated to decide it, (seeds passing,
    seeds judged)) of every undecided or split cell of every check."""
    out = []
    for claim in results_:
        for check in claim.checks:
            if check.cells.empty:
                continue
            for i in check.cells.index[check.cells["decision"].isin(OPEN)]:
                needed = check.cells.at[i, "seeds_needed"]
                needed = None if needed is None or pd.isna(needed) else int(needed)
                where, judged = f"{check.what}: {cell_name(check.cells, i)}", check.cells.loc[i, ["passed", "judged"]]
                out.append((claim.id, where, check.cells.at[i, "run_ids"], needed, tuple(map(int, judged))))
    return out
