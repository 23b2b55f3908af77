"""The claims in words and numbers: the verdicts table and one section per claim."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nnscratch.claims import ClaimResult, as_list, design
from nnscratch.report.effects import level_text
from nnscratch.report.render import Section, slug
from nnscratch.report.sentences import cells_counted, check_sentence, reason_sentence
from nnscratch.stats import BinomialDesign


def claims_table(
    results_: list[ClaimResult], specs: dict[str, dict], links: dict[str, str] | None = None
) -> pd.DataFrame:
    """One row per claim, its deciding check's numbers as a sentence; with `links` ({title: section id}) each
    claim links to its section. `specs`: the claims file's claims by id."""
    rows = []
    for c in results_:
        main, spec = c.checks[0], specs[c.id]["checks"][0]
        rows.append(
            {
                "claim": f"[{c.title}](#{links[c.title]})" if links else c.title,
                "verdict": c.verdict.upper() + (" (exploratory)" if c.exploratory else ""),
                "the deciding check, in numbers": check_sentence(main, spec),
                "cells": cells_counted(main),
                "further checks": "; ".join(f"{ch.verdict}: {ch.what}" for ch in c.checks[1:]) or "—",
                "guaranteed": c.guarantee,
            }
        )
    return pd.DataFrame(rows)


CELL_COLUMNS = {
    "failed": "seeds missing the check",
    "fail_rate_low": "miss rate low",
    "fail_rate_high": "miss rate high",
    "outcomes": "run outcomes",
    "alone": "decision alone",
}  # a cell table's columns as a reader says them ("failed" is a run's outcome, not a check's)


def shown_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """A check's cell table for reading, without the run ids; not rounded here: the writer rounds it once,
    to 3 places as the text and figures do (rounded to 4 first, some figures came out one off in the 3rd)."""
    shown = cells.drop(columns=["run_ids", "margins"]).rename(columns=CELL_COLUMNS)
    bounded = {c: shown[c].where(np.isfinite(shown[c].astype(float))) for c in ("low", "high")}  # no ±inf shown
    return shown.assign(**bounded, seeds_needed=pd.to_numeric(shown["seeds_needed"], errors="coerce").astype("Int64"))


HOW_SURE = "how_sure"  # the section with the whole method (claims.METHOD)


def guarantee_text(test: BinomialDesign) -> str:
    """The guarantee in two sentences, linking to the whole method."""
    return (
        "How sure: a cell is decided by how many of its seeds pass the check, by an exact sequential binomial "
        f"test at {', '.join(map(str, test.looks))} seeds: a cell exactly on the line is called 'holds' or 'fails' "
        f"with chance at most {test.error:.3f}, whatever law its seeds follow (normal, skewed, collapsing) and "
        "however many seeds are added. Margins are in the measure's units (accuracy: 0.01 = 1 point). "
        f"[The method in full](#{HOW_SURE})."
    )


def claim_sections(
    claim_results: list[ClaimResult], heading: str, level: float, figure: Path | None, claims: dict
) -> list[Section]:
    verdicts_id = slug(f"{heading} verdicts")
    specs = {c["id"]: c for c in claims["claims"]}
    links = {c.title: slug(f"{heading} {c.title}") for c in claim_results}
    sections = [
        Section(
            f"{heading}: verdicts",
            [
                f"Each claim ({claims.get('title', 'claims')}) is decided by checks whose thresholds were fixed in "
                f"{claims.get('file', 'the claims file')} before any run; each links to its section.",
            ]
            + (
                [
                    "**Exploratory**: judged with a claims file other than the one the sweep recorded before its runs; "
                    "no verdict here carries the guarantee of its row."
                ]
                if claims.get("exploratory")
                else []
            ),
            tables=[(claims.get("title", "Claims"), claims_table(claim_results, specs, links))],
            figures=[("Each claim's cells: mean margin, interval and seeds", figure)] if figure else [],
            anchor=verdicts_id,
        )
    ]
    sections[0].text.append(guarantee_text(design(claims)))
    for c in claim_results:
        text = [f"[↑ back to the verdicts](#{verdicts_id})"]
        text += [f"Log: “{c.log}”"] if c.log else []
        tabs = []
        for i, (ch, spec) in enumerate(zip(c.checks, specs[c.id]["checks"])):
            label = "Verdict" if i == 0 else "Further check"
            text.append(f"{label}: **{ch.verdict.upper()}** — {ch.what}. {reason_sentence(ch, spec)}.")
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
