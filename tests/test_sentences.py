"""A check's numbers read as sentences: the cell's mean, its distance from the threshold with the interval,
the seeds that pass, the runs' outcomes; "failed" never used for either; no ±inf anywhere."""

import re

import pandas as pd
from test_report import CLAIMS, make_sweep

from nnscratch.claims import CheckResult, evaluate
from nnscratch.report.load import load_sweep
from nnscratch.report.sentences import cell_sentence, check_sentence, outcome_words, reason_sentence
from nnscratch.report.verdicts import claims_table, shown_cells

SPECS = {c["id"]: c for c in CLAIMS["claims"]}


def one_cell(**numbers) -> pd.DataFrame:
    base = {"mean": 0.113, "margin": 0.1005, "low": 0.07, "high": 0.14, "sd": 0.01, "seeds": 6, "failed": 0}
    return pd.DataFrame([base | {"outcomes": "collapsed 6"} | numbers])


def test_a_threshold_cell_reads_as_a_sentence():
    spec = SPECS["unscaled"]["checks"][0]  # test_acc <= collapse
    assert cell_sentence(one_cell(), 0, spec) == (
        "0.113 on 6 seeds, 0.1 [0.07, 0.14] below the collapse level; passes on 6 of 6; all 6 collapsed"
    )
    mixed = one_cell(margin=-0.02, low=-0.05, high=0.01, failed=4, outcomes="ok 4, collapsed 2")
    assert cell_sentence(mixed, 0, spec) == (
        "0.113 on 6 seeds, 0.02 [-0.01, 0.05] above the collapse level; passes on 2 of 6; 4 learned, 2 collapsed"
    )


def test_a_cell_without_an_interval_says_why_instead_of_inf():
    spec = SPECS["unscaled"]["checks"][0]
    flat = one_cell(low=-float("inf"), high=float("inf"), sd=0.0)
    assert cell_sentence(flat, 0, spec).startswith("0.113 on 6 seeds, 0.1 (all seeds gave the same value) below")
    early = one_cell(low=-float("inf"), high=float("inf"), seeds=2)
    assert "0.1 (no interval yet) below" in cell_sentence(early, 0, spec)
    assert "inf" not in cell_sentence(flat, 0, spec)


def test_a_contrast_says_pairs_and_both_sides_outcomes():
    assert outcome_words("ok / ok 10", 10, pairs=True) == "all 10 pairs learned on both sides"
    assert (
        outcome_words("ok / collapsed 3, ok / ok 1", 4, pairs=True) == "3 learned vs collapsed, 1 learned on both sides"
    )


def test_the_verdict_table_and_cell_tables_read_without_machine_text(tmp_path):
    axes = {"data.scaling": ["unit", "none"], "weights": ["uniform", "zeros"], "seed": [0, 1, 2]}
    s = load_sweep(make_sweep(tmp_path, axes))
    results = [r for r in evaluate(CLAIMS, s.runs, s.histories, s.axes) if not r.checks[0].cells.empty]
    table = claims_table(results, SPECS)
    text = " ".join(table.astype(str).to_numpy().ravel())
    for machine in ("inf", "margin ", "failure rate", "outcomes:", "{", "failed"):
        assert machine not in text, machine
    unscaled = table[table["claim"].str.startswith("Unscaled")].iloc[0]
    assert re.fullmatch(
        r"0\.1\d* on 3 seeds, 0\.1\d* \[0\.\d+, 0\.\d+\] below the collapse level; passes on 3 of 3; all 3 collapsed",
        unscaled["the deciding check, in numbers"],
    ), unscaled["the deciding check, in numbers"]
    for r in results:
        cells = shown_cells(r.checks[0].cells)
        assert "failed" not in cells.columns and not cells.isin([float("inf"), -float("inf")]).any().any()


def test_an_empty_check_says_it_has_no_runs():
    empty = CheckResult("w", "inconclusive", "the sweep has no runs for this check")
    assert check_sentence(empty, {}) == "no runs"
    assert reason_sentence(empty, {}) == "the grid has no runs for this check"


def test_a_cell_table_shows_no_infinite_interval():
    cells = one_cell(low=-float("inf"), high=float("inf"), sd=0.0).assign(run_ids=[["a"]], margins=[[0.1]])
    shown = shown_cells(cells.assign(seeds_needed=[None]))
    assert shown[["low", "high"]].isna().all().all() and "seeds missing the check" in shown.columns
