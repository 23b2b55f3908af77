"""nnscratch.report.repairs on a hand-made repairs.csv (one row per try): the repair rates per failure mode
and overall, the fixes that worked, and the report section read from a sweep folder."""

from __future__ import annotations

import pandas as pd
import pytest

from nnscratch.report.repairs import rates_text, repair_rates, repairs_section

# three failed runs: r1 (dead) repaired at its 2nd try within the bar, r2 (dead) never repaired in 3 tries,
# r3 (diverged) repaired at its 1st try but below the bar
TRIES = pd.DataFrame(
    {
        "run_id": ["r1", "r1", "r2", "r2", "r2", "r3"],
        "mode": ["dead", "dead", "dead", "dead", "dead", "diverged"],
        "try": [1, 2, 1, 2, 3, 1],
        "fix": ["lr=0.01", "init=he", "lr=0.01", "init=he", "bias=0.1", "lr=0.01"],
        "repaired": [True, True, False, False, False, True],
        "repaired_within_bar": [True, True, False, False, False, False],
        "repaired_by": ["init=he", "init=he", None, None, None, "lr=0.01"],
    }
)


def test_repair_rates_per_failure_mode_and_for_all():
    rates = repair_rates(TRIES).set_index("failure mode")
    assert rates.index.tolist() == ["dead", "diverged", "all"]
    assert rates["failed runs"].tolist() == [2, 1, 3]
    assert rates["repaired"].tolist() == [1, 1, 2]
    assert rates["rate %"].tolist() == [50.0, 100.0, pytest.approx(66.7)]
    assert rates["within the bar"].tolist() == [1, 0, 1]
    assert rates["bar rate %"].tolist() == [50.0, 0.0, pytest.approx(33.3)]
    assert rates["tries run"].tolist() == [5, 1, 6]  # each run's last try, summed


def test_the_fixes_that_worked_count_runs_within_the_bar_and_repaired():
    fixes = repair_rates(TRIES).set_index("failure mode")["fixes that worked (runs within the bar / repaired)"]
    assert fixes["dead"] == "`init=he` (1/1)"
    assert fixes["diverged"] == "`lr=0.01` (0/1)"
    assert fixes["all"] == "`init=he` (1/1); `lr=0.01` (0/1)"
    assert repair_rates(TRIES[TRIES["run_id"] == "r2"])["fixes that worked (runs within the bar / repaired)"][0] == "—"


def test_a_table_without_the_bar_column_counts_none_within_it():
    rates = repair_rates(TRIES.drop(columns="repaired_within_bar"))
    assert rates["within the bar"].tolist() == [0, 0, 0]
    assert rates["repaired"].tolist() == [1, 1, 2]


def test_rates_text_says_when_there_is_nothing_to_repair():
    assert rates_text(TRIES.iloc[:0]) == "repair: no failed run to repair"
    assert rates_text(TRIES).splitlines()[0].split()[:3] == ["failure", "mode", "failed"]


def test_repairs_section_reads_the_sweeps_repairs_csv(tmp_path):
    assert repairs_section(tmp_path) is None
    TRIES.iloc[:0].to_csv(tmp_path / "repairs.csv", index=False)
    assert repairs_section(tmp_path) is None
    TRIES.to_csv(tmp_path / "repairs.csv", index=False)
    section = repairs_section(tmp_path)
    assert section.anchor == "repairs"
    assert (
        "**2 of 3 failed runs repaired (66.7 %)**, in 6 tries; **1 (33.3 %) within the healthy bar**" in section.text[0]
    )
    assert [caption for caption, _ in section.tables] == ["Repair rate per failure mode", "Every try"]
    assert len(section.tables[1][1]) == 6
