"""nnscratch.report.diagnoses on a few hand-made runs and diagnoses: cell names, the cell x diagnosis
counts, the fix said for a mode, a run's link, and each claim's runs' diagnoses cited in its section."""

from __future__ import annotations

import pandas as pd

from nnscratch.claims.verdicts import CheckResult, ClaimResult
from nnscratch.report.diagnoses import (
    cell_names,
    cite_in_claims,
    claim_runs,
    diagnosis_counts,
    fix_text,
    run_link,
    runs_with_diagnosis,
)
from nnscratch.report.render import Section

AXES = ["scheme", "lr", "seed"]
RUNS = pd.DataFrame(
    {
        "run_id": ["r0", "r1", "r2", "r3"],
        "scheme": ["zeros", "zeros", "normal", "normal"],
        "lr": [0.1, 0.1, 0.1, 0.1],
        "seed": [0, 1, 0, 1],
        "diagnosis": ["stale", "stale", "stale", "stale"],  # what the runs recorded: replaced by the recomputed
    }
)
DIAG = pd.DataFrame(
    {
        "run_id": ["r0", "r1", "r2"],
        "diagnosis": ["symmetric", "symmetric", "healthy"],
        "diagnoses": ["symmetric", "symmetric, dead", "healthy"],
    }
)


def test_cell_names_use_the_varying_axes_but_the_seed():
    assert cell_names(RUNS, AXES).tolist() == ["scheme=zeros", "scheme=zeros", "scheme=normal", "scheme=normal"]


def test_runs_with_diagnosis_replace_the_recorded_columns():
    joined = runs_with_diagnosis(RUNS, DIAG)
    assert joined["diagnosis"].tolist()[:3] == ["symmetric", "symmetric", "healthy"]
    assert pd.isna(joined["diagnosis"].iloc[3])
    assert "diagnosis_x" not in joined.columns


def test_diagnosis_counts_per_cell_in_the_modes_order_then_the_rest():
    table = diagnosis_counts(RUNS, DIAG, AXES, ["healthy", "symmetric"])
    assert list(table.columns) == ["healthy", "symmetric", "not run"]
    assert table.loc["scheme=zeros"].tolist() == [0, 2, 0]
    assert table.loc["scheme=normal"].tolist() == [1, 0, 1]


def test_fix_text_prefers_measured_verdicts_then_the_override_to_try():
    mode = {"name": "symmetric", "remedy": "break the symmetry"}
    assert fix_text(mode, "weights=normal", ["normal: SUPPORTED"]) == "measured (sweep=remedies): normal: SUPPORTED"
    assert fix_text(mode, "weights=normal", []) == (
        "break the symmetry: try `weights=normal` (not measured in this sweep)"
    )
    assert fix_text(mode, None, []) == "break the symmetry"
    assert fix_text({"name": "healthy"}, None, []) == "—"


def test_run_link_points_from_the_report_to_the_runs_folder(tmp_path):
    sweep, out = tmp_path / "sweep", tmp_path / "sweep" / "report"
    assert run_link(sweep, out, "r0") == "[r0](../runs/r0/)"


def _claim(run_ids: list[list[str]]) -> ClaimResult:
    cells = pd.DataFrame({"run_ids": run_ids})
    return ClaimResult("c1", "t", "", [CheckResult("w", "supported", "", cells), CheckResult("v", "x", "")])


def test_claim_runs_lists_each_run_once_in_order():
    assert claim_runs(_claim([["r2", "r0"], ["r0", "r1"]])) == ["r2", "r0", "r1"]


def test_cite_in_claims_counts_the_headline_diagnoses_of_a_claims_runs():
    section = Section("c1")
    cite_in_claims([section], [_claim([["r0", "r1"], ["r2", "r3"]])], DIAG)
    assert section.text == [
        "Diagnoses of its 4 runs ([why runs failed](#why_runs_failed)): symmetric 2, healthy 1, not diagnosed 1."
    ]
