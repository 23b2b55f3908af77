"""nnscratch.report.verdicts: the verdicts table (one row per claim, linked to its section), a check's cell
table for reading, the guarantee in words, one section per claim, and what a grid lacks to test a claim."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from nnscratch.claims import CheckResult, ClaimResult
from nnscratch.report import verdicts  # its `tested` by the module's name: pytest would collect it as a test
from nnscratch.report.verdicts import (
    claim_sections,
    claims_table,
    guarantee_text,
    needed_levels,
    shown_cells,
    untested_line,
)

COLLAPSE = {"what": "unscaled runs collapse", "measure": "test_acc", "op": "<=", "value": "collapse"}
SPECS = {
    "unscaled": {"id": "unscaled", "checks": [COLLAPSE, {"what": "loss rises"}], "select": {}},
    "zeros": {"id": "zeros", "checks": [{"what": "zero weights stay at chance"}]},
}


def one_cell(**numbers) -> pd.DataFrame:
    """A check's cell table of one cell, as nnscratch.claims computes it (the columns the report reads)."""
    base = {"data.scaling": "none", "mean": 0.113, "margin": 0.1005, "low": 0.07, "high": 0.14, "sd": 0.01}
    base |= {"seeds": 6, "failed": 0, "fail_rate_low": 0.0, "fail_rate_high": 0.4, "outcomes": "collapsed 6"}
    base |= {"alone": "holds", "decision": "holds", "seeds_needed": None, "run_ids": ["r1 r2"], "margins": [[0.1]]}
    return pd.DataFrame([base | numbers])


def claim(cid: str, verdict: str, cells: pd.DataFrame, *further: CheckResult, exploratory=False) -> ClaimResult:
    main = CheckResult(SPECS[cid]["checks"][0]["what"], verdict, "why", cells, guarantee=f"error of {cid} <= 0.05")
    return ClaimResult(cid, f"Title {cid}", f"log of {cid}", [main, *further], exploratory=exploratory)


UNSCALED = claim("unscaled", "supported", one_cell(), CheckResult("loss rises", "refuted", "r"))
ZEROS = claim("zeros", "inconclusive", pd.DataFrame(), exploratory=True)


def test_the_verdicts_table_has_a_row_per_claim_with_its_deciding_check_in_numbers():
    table = claims_table([UNSCALED, ZEROS], SPECS, {"Title unscaled": "sec_u", "Title zeros": "sec_z"})
    assert table.to_dict("records") == [
        {
            "claim": "[Title unscaled](#sec_u)",
            "verdict": "SUPPORTED",
            "the deciding check, in numbers": (
                "0.113 on 6 seeds, 0.1 [0.07, 0.14] below the collapse level; passes on 6 of 6; all 6 collapsed"
            ),
            "cells": "1 of 1 cells holds",
            "further checks": "refuted: loss rises",
            "guaranteed": "error of unscaled <= 0.05",
        },
        {
            "claim": "[Title zeros](#sec_z)",
            "verdict": "INCONCLUSIVE (exploratory)",
            "the deciding check, in numbers": "no runs",
            "cells": "—",
            "further checks": "—",
            "guaranteed": "EXPLORATORY (claims file differs from the sweep's): error of zeros <= 0.05",
        },
    ]
    assert claims_table([UNSCALED], SPECS)["claim"].tolist() == ["Title unscaled"]  # no links: plain titles


def test_a_cell_table_reads_without_run_ids_infinite_bounds_or_failed():
    cells = pd.concat([one_cell(low=-np.inf, high=0.2), one_cell(low=0.01, high=np.inf, seeds_needed=9)])
    cells = cells.reset_index(drop=True)
    shown = shown_cells(cells)
    assert "run_ids" not in shown and "margins" not in shown and "failed" not in shown
    assert {"seeds missing the check", "miss rate low", "miss rate high", "run outcomes", "decision alone"} <= set(
        shown
    )
    assert shown["low"].isna().tolist() == [True, False] and shown["high"].isna().tolist() == [False, True]
    assert shown["seeds_needed"].tolist() == [pd.NA, 9] and str(shown["seeds_needed"].dtype) == "Int64"


def test_the_guarantee_names_the_looks_and_the_error_and_links_the_method():
    text = guarantee_text(SimpleNamespace(looks=[3, 6, 10], error=0.04312))
    assert "exact sequential binomial test at 3, 6, 10 seeds" in text and "with chance at most 0.043," in text
    assert text.endswith("[The method in full](#how_sure).")


def test_each_claim_gets_a_section_after_the_verdicts_linked_both_ways(tmp_path):
    claims = {"title": "My claims", "file": "mine.yaml", "claims": list(SPECS.values()), "exploratory": True}
    first, unscaled, zeros = claim_sections([UNSCALED, ZEROS], "Claims", 2, tmp_path / "margins.png", claims)
    assert (first.title, first.anchor) == ("Claims: verdicts", "claims_verdicts")
    assert first.text[0].startswith("Each claim (My claims) is decided by checks whose thresholds were fixed in mine")
    assert first.text[1].startswith("**Exploratory**") and first.text[-1].startswith("How sure:")
    caption, table = first.tables[0]
    assert caption == "My claims" and table["claim"].tolist()[0] == "[Title unscaled](#claims_title_unscaled)"
    assert first.figures == [("Each claim's cells: mean margin, interval and seeds", tmp_path / "margins.png")]
    assert (unscaled.title, unscaled.anchor, unscaled.level) == (
        "Title unscaled — SUPPORTED",
        "claims_title_unscaled",
        3,
    )
    assert unscaled.text[:2] == ["[↑ back to the verdicts](#claims_verdicts)", "Log: “log of unscaled”"]
    assert unscaled.text[2].startswith("Verdict: **SUPPORTED** — unscaled runs collapse. holds in its one cell: 0.113")
    assert unscaled.text[3].startswith("Further check: **REFUTED** — loss rises. ")
    assert [c for c, _ in unscaled.tables] == ["unscaled runs collapse (supported)"]  # the empty further check: none
    assert zeros.tables == [] and zeros.text[2].endswith("the grid has no runs for this check.")


def test_a_grid_lacks_the_levels_its_checks_select_and_the_iterations_they_read_at():
    specs = [
        {"checks": [{"select": {"data.scaling": "none", "data.subset": 5000, "weights": ["zeros", "he"]}, "at": 500}]},
        {"checks": [{"a": {"model.hidden": [10]}, "b": {"model.hidden": [64]}, "within": 3000}]},
    ]
    runs = pd.DataFrame({"data.scaling": ["none"], "data.subset": [5000.0], "weights": ["zeros"], "iteration": [500]})
    assert needed_levels(specs, runs) == [
        "`weights: [he]`",
        "`model.hidden: [10, 64]`",
        "runs of at least 3000 iterations",
    ]
    assert needed_levels(specs[:1], runs) == ["`weights: [he]`"]


def test_a_grid_lacking_the_iterations_level_is_not_told_twice():
    specs = [{"checks": [{"select": {"train.iterations": 3000}, "within": 3000}]}]
    assert needed_levels(specs, pd.DataFrame({"iteration": [500]})) == ["`train.iterations: [3000]`"]


def test_the_untested_claims_are_one_line_with_what_they_need():
    runs = pd.DataFrame({"weights": ["uniform"], "iteration": [500]})
    specs = [SPECS["unscaled"], {"checks": [{"select": {"weights": "zeros"}}]}]
    assert verdicts.tested(UNSCALED) and not verdicts.tested(ZEROS)
    line = untested_line([UNSCALED, ZEROS], specs, runs, "claims.yaml")
    assert line == "Not tested by this grid (claims.yaml): Title zeros — they need `weights: [zeros]`."
    assert untested_line([UNSCALED], specs[:1], runs, "claims.yaml") == ""
    unknown = untested_line([ZEROS], [{"checks": [{"select": {"weights": "uniform"}}]}], runs, "c.yaml")
    assert unknown == "Not tested by this grid (c.yaml): Title zeros."
