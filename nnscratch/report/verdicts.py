"""The claims in words and numbers: the verdicts table and one section per claim."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nnscratch.claims import CheckResult, ClaimResult, as_list, design, margin_text, method_text
from nnscratch.report.effects import level_text
from nnscratch.report.render import Section, slug


def effect_text(check: CheckResult) -> str:
    """The check's numbers in one line: measure, margin and interval of the weakest and strongest cell."""
    cells = check.cells
    if cells.empty:
        return "no runs"
    lo, hi = cells["mean"].min(), cells["mean"].max()
    spread = f"{lo:.3g}" if f"{lo:.3g}" == f"{hi:.3g}" else f"{lo:.3g} to {hi:.3g}"
    ends = sorted({int(cells["margin"].idxmin()), int(cells["margin"].idxmax())})
    margins = " … ".join(margin_text(cells, i) for i in ends)
    return f"{check.measure}: {spread}; {margins}"


def cells_text(check: CheckResult) -> str:
    if check.cells.empty:
        return "—"
    n = check.counts()
    return f"{n['holds']} hold / {n['fails']} fail / {n['undecided']} undecided / {n['split']} split"


def seeds_range(check: CheckResult) -> str:
    """How many seeds the check's cells took, e.g. '3–6'."""
    if check.cells.empty:
        return "—"
    lo, hi = int(check.cells["seeds"].min()), int(check.cells["seeds"].max())
    return str(lo) if lo == hi else f"{lo}–{hi}"


def claims_table(results_: list[ClaimResult], links: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per claim; with `links` ({title: section id}) each claim links to its section."""
    rows = []
    for c in results_:
        main = c.checks[0]
        rows.append(
            {
                "claim": f"[{c.title}](#{links[c.title]})" if links else c.title,
                "verdict": c.verdict.upper(),
                "effect [interval]": effect_text(main),
                "seeds": int(main.cells["seeds"].sum()) if not main.cells.empty else 0,
                "seeds per cell": seeds_range(main),
                "cells": cells_text(main),
                "why": main.reason,
                "mechanism / further checks": "; ".join(f"{ch.verdict}: {ch.what}" for ch in c.checks[1:]) or "—",
            }
        )
    return pd.DataFrame(rows)


def shown_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """A check's cell table for reading, without the run ids; not rounded here: the writer rounds it once,
    to 3 places as the text and figures do (rounded to 4 first, some figures came out one off in the 3rd)."""
    shown = cells.drop(columns=["run_ids", "margins"])
    return shown.assign(seeds_needed=pd.to_numeric(shown["seeds_needed"], errors="coerce").astype("Int64"))


def claim_sections(
    claim_results: list[ClaimResult], heading: str, level: float, figure: Path | None, claims: dict
) -> list[Section]:
    verdicts_id = slug(f"{heading} verdicts")
    links = {c.title: slug(f"{heading} {c.title}") for c in claim_results}
    sections = [
        Section(
            f"{heading}: verdicts",
            [
                f"Each claim ({claims.get('title', 'claims')}) was turned into checks with thresholds fixed in "
                f"{claims.get('file', 'the claims file')} "
                "before any run. Margins are in the units of the measure (accuracy: 0.01 = 1 point). "
                "Each claim links to its section.",
                "How sure: " + method_text(design(claims)),
            ],
            tables=[(claims.get("title", "Claims"), claims_table(claim_results, links))],
            figures=[("Each claim's cells: mean margin, interval and seeds", figure)] if figure else [],
            anchor=verdicts_id,
        )
    ]
    for c in claim_results:
        text = [f"[↑ back to the verdicts](#{verdicts_id})"]
        text += [f"Log: “{c.log}”"] if c.log else []
        tabs = []
        for i, ch in enumerate(c.checks):
            label = "Verdict" if i == 0 else "Further check"
            seeds = int(ch.cells["seeds"].sum()) if not ch.cells.empty else 0
            numbers = f" Effect: {effect_text(ch)}; {seeds} seeds; cells {cells_text(ch)}." if seeds else ""
            text.append(f"{label}: **{ch.verdict.upper()}** — {ch.what}. {ch.reason}.{numbers}")
            if not ch.cells.empty:
                tabs.append((f"{ch.what} ({ch.verdict})", shown_cells(ch.cells)))
        sections.append(Section(f"{c.title} — {c.verdict.upper()}", text, tables=tabs, level=3, anchor=links[c.title]))
    return sections


def tested(result: ClaimResult) -> bool:
    """The grid has runs for the claim's deciding check."""
    return not result.checks[0].cells.empty


def needed_levels(specs: list[dict], runs: pd.DataFrame) -> list[str]:
    """What a grid lacks to test these claims: the levels their checks select that it has no runs of, per axis
    as a grid would list them ('`data.scaling: [none, unit]`'), and the iterations a check reads at."""
    wanted: dict[str, list[str]] = {}
    longest = 0
    for spec in specs:
        for check in spec["checks"]:
            for where in (check.get(k) or {} for k in ("select", "a", "b")):
                for axis, values in where.items():
                    known = wanted.setdefault(axis, [])
                    known += [v for v in map(level_text, as_list(values)) if v not in known]
            longest = max(longest, int(check.get("at", 0)), int(check.get("within", 0)))
    have = {a: set(runs[a].map(level_text)) if a in runs.columns else set() for a in wanted}
    lacking = {a: [v for v in values if v not in have[a]] for a, values in wanted.items()}
    needs = [f"`{a}: [{', '.join(v)}]`" for a, v in lacking.items() if v]
    iterations = runs["iteration"].max() if "iteration" in runs.columns and len(runs) else 0
    longer = longest > iterations and not lacking.get("train.iterations")
    return needs + ([f"runs of at least {longest} iterations"] if longer else [])


def untested_line(results_: list[ClaimResult], specs: list[dict], runs: pd.DataFrame, file: str) -> str:
    """One line naming the claims this grid does not test and what it would need to; '' when it tests all."""
    missing = [(r, s) for r, s in zip(results_, specs) if not tested(r)]
    if not missing:
        return ""
    titles = "; ".join(r.title for r, _ in missing)
    needs = needed_levels([s for _, s in missing], runs)
    return f"Not tested by this grid ({file}): {titles}" + (f" — they need {', '.join(needs)}." if needs else ".")
