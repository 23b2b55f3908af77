"""nnscratch.report.tables on a few hand-made runs: the factors that vary, the cell pivot, main effects,
effects across another factor's levels, outcome counts and the all-runs table."""

from __future__ import annotations

import pandas as pd
import pytest

from nnscratch.report.tables import (
    all_runs,
    effect,
    effect_across_levels,
    factors,
    main_effects,
    mean_std,
    outcome_counts,
    pivot,
    with_outcome,
)

AXES = ["scheme", "lr", "width", "seed"]
# 2 schemes x 2 lrs x 2 seeds, width fixed; normal learns at both lrs, zeros only at lr 1.0
RUNS = pd.DataFrame(
    {
        "scheme": ["normal"] * 4 + ["zeros"] * 4,
        "lr": [0.1, 0.1, 1.0, 1.0] * 2,
        "width": [64] * 8,
        "seed": [0, 1] * 4,
        "test_acc": [0.80, 0.82, 0.90, 0.92, 0.10, 0.12, 0.50, 0.52],
        "best_test_acc": [0.81, 0.83, 0.91, 0.93, 0.11, 0.13, 0.51, 0.53],
        "train_acc": [0.8] * 8,
        "seconds": [1.0] * 8,
        "command": ["python -m experiments.train"] * 8,
        "outcome": ["ok"] * 4 + ["collapsed", "collapsed", "ok", "ok"],
        "status": ["finished"] * 8,
    }
)


def test_factors_are_the_axes_that_vary_seed_excluded():
    assert factors(RUNS, AXES) == ["scheme", "lr"]
    assert factors(RUNS, [*AXES, "missing"]) == ["scheme", "lr"]


def test_with_outcome_marks_unfinished_runs_failed():
    runs = RUNS.assign(status=["finished"] * 7 + ["failed"])
    assert with_outcome(runs)["outcome"].tolist()[-2:] == ["ok", "failed"]


def test_mean_std_shows_the_spread_only_beyond_one_value():
    assert mean_std(pd.Series([0.5, 0.7])) == "0.600 ± 0.141"  # sample std: sqrt(0.02)
    assert mean_std(pd.Series([0.5])) == "0.500"


def test_pivot_one_row_per_cell_with_its_outcomes():
    table = pivot(RUNS, AXES)
    assert table[["scheme", "lr"]].values.tolist() == [["normal", 0.1], ["normal", 1.0], ["zeros", 0.1], ["zeros", 1.0]]
    assert table["mean"].tolist() == pytest.approx([0.81, 0.91, 0.11, 0.51])
    assert table["seeds"].tolist() == [2, 2, 2, 2]
    assert table["outcomes"].tolist() == ["ok 2", "ok 2", "collapsed 2", "ok 2"]


def test_pivot_without_factors_is_one_row_over_finished_runs():
    runs = RUNS[RUNS["scheme"] == "normal"].assign(lr=0.1, status=["finished", "finished", "finished", "failed"])
    table = pivot(runs, AXES)
    assert table["seeds"].tolist() == [3]
    assert table["test_acc"].iloc[0].startswith(f"{(0.80 + 0.82 + 0.90) / 3:.3f} ± ")


def test_main_effects_compare_each_level_with_the_first():
    table = main_effects(RUNS, AXES).set_index(["factor", "level"])
    assert table.loc[("scheme", "zeros"), "change vs first level"] == pytest.approx(0.31 - 0.86)
    assert table.loc[("lr", 1.0), "change vs first level"] == pytest.approx(0.71 - 0.46)
    assert table.loc[("lr", 0.1), "runs"] == 4


def test_effect_is_the_range_of_level_means():
    assert effect(RUNS, "lr") == pytest.approx(0.71 - 0.46)
    assert effect(RUNS[RUNS["lr"] == 0.1], "lr") != effect(RUNS[RUNS["lr"] == 0.1], "lr")  # NaN for one level


def test_an_effect_that_moves_across_the_other_factors_levels_depends_on_it():
    table = effect_across_levels(RUNS, AXES).set_index(["factor", "by"])
    # lr's effect: +0.10 for normal, +0.40 for zeros; scheme's: 0.70 at lr 0.1, 0.40 at lr 1.0
    assert table.loc[("lr", "scheme"), "spread"] == pytest.approx(0.30)
    assert table.loc[("scheme", "lr"), "spread"] == pytest.approx(0.30)
    words = table.loc[("lr", "scheme"), "effect of factor at each level of by"]
    assert words == "scheme=normal: +0.100; scheme=zeros: +0.400"
    assert table["depends"].all()
    assert not effect_across_levels(RUNS, AXES, threshold=0.5)["depends"].any()


def test_outcome_counts_per_level_of_each_factor():
    runs = RUNS.assign(status=["finished"] * 7 + ["failed"])
    table = outcome_counts(runs, AXES).set_index(["factor", "level"])
    assert table.loc[("scheme", "zeros")].tolist() == [1, 2, 0, 1]  # ok, collapsed, diverged, failed
    assert table.loc[("lr", 0.1)].tolist() == [2, 2, 0, 0]


def test_all_runs_keeps_the_varying_parameters_and_the_seed():
    table = all_runs(RUNS, AXES)
    assert list(table.columns[:4]) == ["scheme", "lr", "seed", "outcome"]
    assert "width" not in table.columns
    assert table["test_acc"].tolist()[:2] == [0.80, 0.82]
