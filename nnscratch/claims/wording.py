"""The claims' numbers in words: a cell's margin and failures, why cells are open, the axis that splits a
conditional verdict, and the method and its guarantee for the report."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nnscratch.claims.cells import CELL_STATS, OPEN, cell_name
from nnscratch.stats import BinomialDesign

METHOD = (
    "The guarantee, for any law the seeds can follow (no normality, no bound on skew or outliers): a check "
    "states whether more than half of a cell's seeds pass (its median margin is on the passing side; a check "
    "with rate r: more than r of seeds pass). A seed's pass is a coin whose chance p is whatever the seeds' law "
    "gives, so an exact binomial test needs nothing else: for a cell whose p is exactly on the line, the "
    "chance that it is ever called 'holds' or 'fails' is at most {error:.3f} (exact, computed, not simulated), "
    "at every look and however many rounds of seeds are added or resumes made; on either side of the line the "
    "chance of the wrong call is smaller. How: a run's margin is its measure minus the check's threshold, "
    "signed so that positive passes (a contrast: the paired difference of twin runs on the same seed). A "
    "cell's seeds, in the order they were added (seed numbers only grow), are tested only at the seed counts "
    "{looks} fixed in the claims file before any seed ran ({spending} error spending, each side at most "
    "{side:.3f}): a cell holds when {holds}, fails when {fails}. Seeds past the last look ({last}) are reported, "
    "not judged. The interval shown beside the mean margin is a plain Student t interval: it assumes normal "
    "seeds and decides nothing. A seed-independent declaration is believed only when two of the cell's seeds "
    "have identical full histories; then its single value decides. Counts of cells and conditional splits keep "
    "only the decisions that Holm's step-down keeps across the check's cells; supported and refuted need every "
    "cell on its own. Each claim's error is its own (no correction across claims): over m claims, the chance "
    "that some verdict is wrong is at most m times {error:.3f} (union bound)."
)


def method_text(test: BinomialDesign) -> str:
    """METHOD filled in with the design's numbers."""
    holds = [f"{u} of {n} pass" for n, u in zip(test.looks, test.upper) if u <= n]
    fails = [f"{low} or fewer of {n} pass" for n, low in zip(test.looks, test.lower) if low >= 0]
    return METHOD.format(
        error=test.error,
        last=test.last,
        looks=", ".join(map(str, test.looks)),
        spending=test.spending,
        side=(1 - test.level) / 2,
        holds=" or ".join(holds) or "never",
        fails=" or ".join(fails) or "never",
    )


def family_text(error: float, claims: int) -> str:
    """What each claim's error means for the file's claims together (no correction across claims)."""
    bound = min(1.0, claims * error)
    return (
        f"each of the {claims} claims' verdicts is wrong with chance ≤ {error:.3f} on its own; that some of the "
        f"{claims} is wrong: ≤ {bound:.2f} (union bound), {1 - (1 - error) ** claims:.2f} if independent"
    )


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
    median = f"median margin {cells.at[i, 'median']:+.3g}, " if "median" in cells.columns else ""
    text = f"{median}margin {cells.at[i, 'margin']:+.3g} {span}; {outcome_text(cells, i)}"
    return text + beyond_text(cells, i, f"{cells.at[i, 'seeds']} seeds")


def beyond_text(cells: pd.DataFrame, i: int, everyone: str) -> str:
    """For a cell with more seeds than the design's last look: '; judged on its first J seeds ..., P% of all
    <everyone> pass'; else ''."""
    if "beyond" not in cells.columns or not cells.at[i, "beyond"] > 0:
        return ""
    return (
        f"; judged on its first {cells.at[i, 'judged']} seeds (the design's last look), the "
        f"{cells.at[i, 'beyond']} seeds past it reported only: "
        f"{cells.at[i, 'pass_rate_all']:.0%} of all {everyone} pass"
    )


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
            cells.at[i, "futility"] or "no look of the design can decide it any more, whatever the next seeds give"
            if needed is None or pd.isna(needed)
            else f"a decision is still possible at {int(needed)} seeds"
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
