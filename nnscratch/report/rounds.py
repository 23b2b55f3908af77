"""The adaptive rounds of a sweep: which cells got extra seeds, why, and the verdicts before and after."""

from __future__ import annotations

import pandas as pd

from nnscratch.report.load import Sweep
from nnscratch.report.render import Section


def cell_words(cell: dict | str) -> str:
    """A cell as a reader says it: 'weights = he, train.lr = 0.1' (sweep.json records it as a mapping)."""
    return ", ".join(f"{k} = {v}" for k, v in cell.items()) if isinstance(cell, dict) else str(cell)


def rounds_section(s: Sweep) -> Section | None:
    """The adaptive rounds of a sweep: which cells got extra seeds, why, and the verdicts before and after."""
    rounds = s.record.get("rounds") or []
    if not rounds:
        return None
    rows = [
        {
            "round": r["round"],
            "cell": cell_words(cell["cell"]),
            "seeds added": ", ".join(str(x) for x in cell["seeds"]),
            "runs": len(cell["runs"]),
            "reason": cell["reason"],
        }
        for r in rounds
        for cell in r["cells"]
    ]
    before = rounds[0]["verdicts_before"]
    after = rounds[-1].get("verdicts_after", {})
    changes = pd.DataFrame(
        [{"claim": k, "before extra seeds": v.upper(), "after": after.get(k, "?").upper()} for k, v in before.items()]
    )
    text = [
        f"Adaptive seeds (max {s.record['adaptive']['max_seeds']} per cell): "
        f"{len(rounds)} {'round' if len(rounds) == 1 else 'rounds'}, "
        f"{sum(len(c['runs']) for r in rounds for c in r['cells'])} extra runs, added only to the cells that fed "
        "an undecided check (both sides of a contrast).",
        f"Stopped because: {s.record['adaptive'].get('stopped', 'the sweep did not finish its rounds')}.",
    ]
    return Section(
        "Extra seeds where a verdict was undecided",
        text,
        tables=[("Cells that received extra seeds", pd.DataFrame(rows)), ("Verdicts before and after", changes)],
        level=2,
    )
