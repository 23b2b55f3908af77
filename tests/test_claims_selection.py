"""nnscratch.claims.selection on a few hand-made runs: which runs a check selects, the history row it reads,
its threshold, and each run's signed margin for the threshold, contrast and reach kinds."""

from __future__ import annotations

import pandas as pd
import pytest

from nnscratch.claims.selection import at_iteration, per_run, select, signed, threshold

RUNS = pd.DataFrame(
    {
        "run_id": ["a0", "a1", "b0", "b1"],
        "scheme": ["zeros", "zeros", "normal", "normal"],
        "lr": [0.1, 0.1, 0.1, 0.1],
        "seed": [0, 1, 0, 1],
        "test_acc": [0.10, 0.12, 0.80, 0.85],
    }
)
HISTORIES = pd.DataFrame(
    {
        "run_id": ["a0", "a0", "a1", "b0", "b0", "b1", "b1"],
        "iteration": [10, 20, 10, 10, 20, 10, 20],
        "test_acc": [0.10, 0.11, 0.12, 0.50, 0.90, 0.70, 0.95],
    }
)


def test_select_matches_values_as_text_and_lists_of_values():
    assert select(RUNS, {"scheme": "zeros"})["run_id"].tolist() == ["a0", "a1"]
    assert select(RUNS, {"lr": "0.1", "seed": [1]})["run_id"].tolist() == ["a1", "b1"]
    assert select(RUNS, {}).shape == RUNS.shape


def test_select_is_none_when_the_sweep_lacks_an_axis():
    assert select(RUNS, {"width": 64}) is None


def test_at_iteration_drops_runs_that_never_got_there():
    found = at_iteration(RUNS, HISTORIES, 20)
    assert found["run_id"].tolist() == ["a0", "b0", "b1"]
    assert found["test_acc"].tolist() == [0.11, 0.90, 0.95]  # the history's value, not the final one
    assert found["scheme"].tolist() == ["zeros", "normal", "normal"]


def test_threshold_is_a_number_a_named_expression_or_an_expression():
    frame = pd.DataFrame({"majority_rate": [0.1, 0.2]})
    assert threshold(0.5, frame, {}).tolist() == [0.5, 0.5]
    assert threshold("collapse", frame, {"collapse": "majority_rate + 0.05"}).tolist() == pytest.approx([0.15, 0.25])
    assert threshold("2 * majority_rate", frame, {}).tolist() == pytest.approx([0.2, 0.4])


@pytest.mark.parametrize(("op", "margin"), [(">=", 0.2), (">", 0.2), ("<=", -0.2), ("<", -0.2)])
def test_signed_margin_is_positive_on_the_passing_side(op, margin):
    assert signed(pd.Series([0.7]), pd.Series([0.5]), op).iloc[0] == pytest.approx(margin)


def test_per_run_threshold_margin_is_measure_minus_value():
    check = {"kind": "threshold", "select": {"scheme": "normal"}, "measure": "test_acc", "value": 0.82}
    frame = per_run(check, RUNS, HISTORIES, {}, ["scheme", "seed"])
    assert frame["margin"].tolist() == pytest.approx([-0.02, 0.03])
    assert frame["run_ids"].tolist() == [["b0"], ["b1"]]


def test_per_run_threshold_at_an_iteration_reads_the_history():
    check = {"kind": "threshold", "select": {"scheme": "normal"}, "measure": "test_acc", "value": 0.6, "at": 10}
    assert per_run(check, RUNS, HISTORIES, {}, ["scheme", "seed"])["margin"].tolist() == pytest.approx([-0.1, 0.1])


def test_per_run_is_none_when_no_run_is_selected():
    check = {"kind": "threshold", "select": {"scheme": "ones"}, "measure": "test_acc", "value": 0.5}
    assert per_run(check, RUNS, HISTORIES, {}, ["scheme", "seed"]) is None


def test_contrast_pairs_twin_runs_on_the_same_seed():
    check = {
        "kind": "contrast",
        "a": {"scheme": "normal"},
        "b": {"scheme": "zeros"},
        "measure": "test_acc - b.test_acc",
        "value": 0.7,
    }
    frame = per_run(check, RUNS, HISTORIES, {}, ["scheme", "lr", "seed"])
    assert frame["run_ids"].tolist() == [["b0", "a0"], ["b1", "a1"]]
    assert frame["measure"].tolist() == pytest.approx([0.80 - 0.10, 0.85 - 0.12])
    assert frame["margin"].tolist() == pytest.approx([0.0, 0.03])


def test_reach_takes_the_best_within_the_window_and_the_first_iteration_at_the_value():
    check = {"kind": "reach", "select": {"scheme": "normal"}, "measure": "test_acc", "value": 0.6, "within": 10}
    frame = per_run(check, RUNS, HISTORIES, {}, ["scheme", "seed"])
    assert frame["measure"].tolist() == [0.50, 0.70]  # iteration 20 lies outside the window
    assert frame["first"].isna().tolist() == [True, False] and frame["first"].iloc[1] == 10
    assert frame["margin"].tolist() == pytest.approx([-0.1, 0.1])


def test_an_unknown_check_kind_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown check kind 'best'"):
        per_run({"kind": "best"}, RUNS, HISTORIES, {}, ["seed"])
