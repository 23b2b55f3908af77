"""A check's numbers as sentences: one cell's result ("0.113 on 6 seeds, 0.10 [0.07, 0.14] below the collapse
level; passes on 6 of 6 seeds; all 6 collapsed") and a check's verdict with its reason.

Words kept apart: a seed *passes* or *misses* a check; a run *learned*, *collapsed* or *diverged*. "Failed"
is not used for either, so that a row never says it in two senses.
"""

from __future__ import annotations

import math

import pandas as pd

from nnscratch.claims import OPEN, CheckResult, cell_name
from nnscratch.claims.wording import beyond_text

RUN_WORDS = {"ok": "learned", "collapsed": "collapsed", "diverged": "diverged"}


def value_name(value) -> str:
    """A check's threshold in words: a number, 'the collapse level' for the named expression, or the expression."""
    if isinstance(value, int | float):
        return f"the threshold {value:g}"
    return "the collapse level" if value == "collapse" else f"`{value}`"


def outcome_words(outcomes: str, n: int, pairs: bool) -> str:
    """The seeds' run outcomes ('collapsed 6', 'ok 3, collapsed 3', 'ok / ok 10') in words."""

    def said(label: str) -> str:
        sides = [RUN_WORDS.get(x.strip(), x.strip()) for x in label.split(" / ")]
        return f"{sides[0]} on both sides" if len(sides) == 2 and sides[0] == sides[1] else " vs ".join(sides)

    parts = [p.rsplit(" ", 1) for p in outcomes.split(", ") if p]
    if len(parts) == 1:
        return f"all {n} {'pairs ' if pairs else ''}{said(parts[0][0])}"
    return ", ".join(f"{count} {said(label)}" for label, count in parts)


def cell_sentence(cells: pd.DataFrame, i, spec: dict) -> str:
    """One cell of a check: its mean measure, how far from the threshold and on which side (with the
    sequential interval), how many seeds pass, and what the runs did."""
    n, k = int(cells.at[i, "seeds"]), int(cells.at[i, "seeds"] - cells.at[i, "failed"])
    pairs = spec.get("kind") == "contrast"
    sign = -1 if spec.get("op", ">=") in ("<=", "<") else 1  # measure - value = sign * margin
    d = sign * cells.at[i, "margin"]
    ends = sorted(sign * cells.at[i, x] for x in ("low", "high"))
    side = "above" if d >= 0 else "below"
    ends = ends if d >= 0 else [-ends[1], -ends[0]]
    span = f" [{ends[0]:.2g}, {ends[1]:.2g}]" if all(map(math.isfinite, ends)) else ""
    if not span:
        span = " (all seeds gave the same value)" if cells.at[i, "sd"] == 0 else " (no interval yet)"
    mean = f"{cells.at[i, 'mean']:+.3g}" if pairs else f"{cells.at[i, 'mean']:.3g}"
    rate = f" (at least {spec['rate']:.0%} needed)" if spec.get("rate") is not None else ""
    seeds = "pairs of seeds" if pairs else "seeds"
    beyond = beyond_text(cells, i, str(n))
    return (
        f"{mean} on {n} {seeds}, {abs(d):.2g}{span} {side} {value_name(spec['value'])}; "
        f"passes on {k} of {n}{rate}; {outcome_words(cells.at[i, 'outcomes'], n, pairs)}{beyond}"
    )


def shown_cell(check: CheckResult) -> tuple[str, object]:
    """(which cell a one-line summary quotes, its index): the weakest when the check holds, the closest when it
    misses, the first open cell when undecided."""
    cells = check.cells
    if len(cells) == 1:
        return "", cells.index[0]
    if check.verdict == "supported":
        return "weakest of", cells["margin"].idxmin()
    if check.verdict == "refuted":
        return "closest of", cells["margin"].idxmax()
    if check.verdict == "inconclusive":
        return "first open of", cells.index[cells["decision"].isin(OPEN)][0]
    return "nearest the threshold of", (cells["margin"].abs()).idxmin()


def check_sentence(check: CheckResult, spec: dict) -> str:
    """A check's numbers in one sentence: the quoted cell, named when there are several."""
    if check.cells.empty:
        return "no runs"
    which, i = shown_cell(check)
    named = f"{which} {len(check.cells)} cells ({cell_name(check.cells, i)}): " if which else ""
    return named + cell_sentence(check.cells, i, spec)


def cells_counted(check: CheckResult) -> str:
    """'4 of 4 cells hold', '3 hold, 1 undecided (of 4 cells)'; for a conditional verdict, where it holds."""
    if check.cells.empty:
        return "—"
    counts = {k: v for k, v in check.counts().items() if v}
    n = len(check.cells)
    said = (
        f"{n} of {n} cells {next(iter(counts))}"
        if len(counts) == 1
        else (", ".join(f"{v} {k}" for k, v in counts.items()) + f" (of {n} cells)")
    )
    return said.replace("fails", "miss") + (f": {check.reason}" if check.verdict == "conditional" else "")


def reason_sentence(check: CheckResult, spec: dict) -> str:
    """Why the check has its verdict, every cell quoted in the words of cell_sentence."""
    cells, n = check.cells, len(check.cells)
    if cells.empty:
        return "the grid has no runs for this check"
    if check.verdict in ("supported", "refuted"):
        which, i = shown_cell(check)
        where = f"; {which.split()[0]}: {cell_name(cells, i)}, " if n > 1 else ": "
        verb = "holds" if check.verdict == "supported" else "misses"
        return (
            f"{verb} in {'all ' + str(n) + ' cells' if n > 1 else 'its one cell'}{where}{cell_sentence(cells, i, spec)}"
        )
    if check.verdict == "conditional":
        return check.reason
    open_ = [
        f"{cell_name(cells, i)}: {cells.at[i, 'decision']} ({cells.at[i, 'basis']}), {cell_sentence(cells, i, spec)}"
        + (f"; {cells.at[i, 'futility']}" if stopped(cells, i) else seeds_guess(cells.at[i, "seeds_needed"]))
        for i in cells.index[cells["decision"].isin(OPEN)]
    ]
    return f"{len(open_)} of {n} cells still open — " + "; ".join(open_)


def stopped(cells: pd.DataFrame, i) -> bool:
    """The cell was stopped for futility (claims.futility_reason; tables from before it have no column)."""
    return "futility" in cells.columns and bool(cells.at[i, "futility"])


def seeds_guess(needed) -> str:
    if needed is None or pd.isna(needed):
        return "; within the design's seeds the mean would not clear the boundary at this spread"
    return f"; about {int(needed)} seeds would decide it at this spread"
