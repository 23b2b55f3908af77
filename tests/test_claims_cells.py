"""nnscratch.claims.cells on hand-made cells: the t interval, passing seeds, declared seed-independence,
the exact binomial decision of one cell, Holm across cells, and the cell table.

The design used throughout looks once, at 6 seeds, at confidence 0.95: under p = 1/2 each side may spend
0.025; 6 of 6 passes has chance 1/64 = 0.016 (allowed), 5 or more 7/64 = 0.11 (not), so a cell holds at
6 of 6 passes and fails at 0 of 6; its exact two-sided p-value there is 2/64."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nnscratch.claims.cells import (
    FAILS,
    HOLDS,
    UNDECIDED,
    Judging,
    cell_name,
    cell_statistics,
    check_decisions,
    decision_before_holm,
    declared_independent,
    history_difference,
    independence_checked,
    interval,
    passes,
    seed_outcomes,
    seeds_needed,
)
from nnscratch.claims.design import design

ONE_LOOK = design({"sequential": {"looks": [6]}})


def test_the_design_used_here_holds_at_all_six_and_fails_at_none():
    assert (ONE_LOOK.upper, ONE_LOOK.lower) == ((6,), (0,))
    assert ONE_LOOK.error == pytest.approx(2 / 64)


def test_interval_is_the_student_t_interval_of_the_mean():
    margins = np.array([0.1, 0.3, 0.2, 0.6])
    sem = margins.std(ddof=1) / math.sqrt(4)
    expected = stats.t.interval(0.9, 3, loc=margins.mean(), scale=sem)
    assert interval(margins, 0.9) == pytest.approx(expected)


@pytest.mark.parametrize("margins", [np.array([0.4]), np.array([0.2, 0.2, 0.2])])
def test_interval_is_unbounded_for_one_seed_or_no_spread(margins):
    assert interval(margins, 0.95) == (-math.inf, math.inf)


def test_a_zero_margin_passes_only_a_non_strict_op():
    margins = np.array([-0.1, 0.0, 0.1])
    assert passes(margins, strict=False).tolist() == [False, True, True]
    assert passes(margins, strict=True).tolist() == [False, False, True]


def test_seed_outcomes_default_to_ok_and_join_a_contrasts_two_sides():
    assert seed_outcomes(pd.DataFrame({"margin": [1, 2]})).tolist() == ["ok", "ok"]
    pairs = pd.DataFrame({"outcome": ["ok", "collapsed"], "b_outcome": ["diverged", "ok"]})
    assert seed_outcomes(pairs).tolist() == ["ok / diverged", "collapsed / ok"]


def test_seed_independence_is_declared_by_true_or_a_selection_all_runs_match():
    group = pd.DataFrame({"scheme": ["zeros", "zeros"], "seed": [0, 1]})
    assert declared_independent({"seed_independent": True}, group)
    assert not declared_independent({}, group)
    assert not declared_independent({"seed_independent": False}, group)
    assert declared_independent({"seed_independent": {"scheme": ["zeros", "ones"]}}, group)
    mixed = group.assign(scheme=["zeros", "normal"])
    assert not declared_independent({"seed_independent": {"scheme": "zeros"}}, mixed)


def _history(losses: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"iteration": range(len(losses)), "loss": losses})


def test_history_difference_names_the_first_differing_value():
    a, b = _history([2.3, 1.5, 0.9]), _history([2.3, 1.5, 0.8])
    assert history_difference(a, a.copy()) is None
    assert history_difference(a, b) == "loss at iteration 2: 0.9 vs 0.8"
    assert history_difference(a, b.iloc[:2]) == "histories of different shapes (3 and 2 rows)"
    assert history_difference(a, pd.DataFrame()) == "no history recorded"


def test_history_difference_ignores_float_rounding():
    a = _history([1.0, 0.5])
    assert history_difference(a, a.assign(loss=a["loss"] * (1 + 1e-12))) is None


def _two_seeds_histories(second_loss: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    group = pd.DataFrame({"seed": [0, 1], "run_ids": [["r0"], ["r1"]]})
    histories = pd.DataFrame({"run_id": ["r0", "r0", "r1", "r1"], "iteration": [0, 1, 0, 1]})
    return group, histories.assign(loss=[2.0, 1.0, 2.0, second_loss])


def test_independence_is_confirmed_by_identical_histories_and_refused_otherwise():
    group, same = _two_seeds_histories(1.0)
    confirmed, words = independence_checked(group, same)
    assert confirmed and "seeds 0 and 1 have identical histories" in words
    group, differ = _two_seeds_histories(0.5)
    confirmed, words = independence_checked(group, differ)
    assert not confirmed and "loss at iteration 1: 1 vs 0.5" in words
    assert not independence_checked(group.iloc[:1], same)[0]


def test_one_cell_holds_at_all_passes_fails_at_none_and_waits_otherwise():
    code, p, basis = decision_before_holm(np.full(6, 0.1), False, None, ONE_LOOK)
    assert (code, p) == (HOLDS, pytest.approx(2 / 64)) and basis.startswith("exact binomial test")
    assert decision_before_holm(np.full(6, -0.1), False, None, ONE_LOOK)[:2] == (FAILS, pytest.approx(2 / 64))
    five_of_six = np.array([0.1, 0.2, -0.1, 0.3, 0.1, 0.2])
    assert decision_before_holm(five_of_six, False, None, ONE_LOOK)[:2] == (UNDECIDED, 1.0)


def test_a_confirmed_seed_independent_cell_is_decided_by_its_one_value():
    code, p, basis = decision_before_holm(np.array([0.2, 0.2]), False, "confirmed", ONE_LOOK)
    assert (code, p, basis) == (HOLDS, 0.0, "confirmed")
    assert decision_before_holm(np.array([0.0, 0.0]), True, "confirmed", ONE_LOOK)[0] == FAILS


def test_seeds_needed_is_the_next_look_that_can_still_decide():
    assert seeds_needed(np.array([0.1, 0.1, 0.1]), False, ONE_LOOK) == 6  # three more passes would hold
    assert seeds_needed(np.array([0.1, -0.1, 0.1]), False, ONE_LOOK) is None  # 6 of 6 and 0 of 6 both gone


def test_unanimous_cells_keep_their_decisions_whatever_holm_says():
    codes = np.array([[HOLDS, HOLDS]])
    assert check_decisions(codes, np.array([[0.04, 0.04]]), 0.95).tolist() == [[HOLDS, HOLDS]]


def test_mixed_cells_keep_only_what_holm_rejects():
    codes = np.array([[HOLDS, FAILS], [HOLDS, FAILS]])
    p = np.array([[0.01, 0.04], [0.03, 0.04]])  # Holm at 0.05: 0.01 <= 0.025 then 0.04 <= 0.05; 0.03 > 0.025
    assert check_decisions(codes, p, 0.95).tolist() == [[HOLDS, FAILS], [UNDECIDED, UNDECIDED]]


def _runs(margins_by_lr: dict[float, list[float]]) -> pd.DataFrame:
    rows = [
        {"lr": lr, "seed": seed, "measure": 0.5 + m, "margin": m, "run_ids": [f"{lr}-{seed}"]}
        for lr, margins in margins_by_lr.items()
        for seed, m in enumerate(margins)
    ]
    return pd.DataFrame(rows)


def test_cell_statistics_one_row_per_level_with_hand_counted_numbers():
    frame = _runs({0.1: [0.1, 0.2, 0.3, 0.1, 0.2, 0.3], 1.0: [-0.1, -0.2, -0.1, -0.3, -0.1, 0.2]})
    cells = cell_statistics(frame, ["lr", "seed"], Judging({}, ONE_LOOK, False), pd.DataFrame())
    assert cells["lr"].tolist() == [0.1, 1.0]
    assert cells["alone"].tolist() == ["holds", "undecided"]
    # not unanimous, so Holm over the two cells: p = 2/64 = 0.031 > 0.05 / 2, the hold is not kept
    assert cells["decision"].tolist() == ["undecided", "undecided"]
    assert cells["failed"].tolist() == [0, 5]
    assert cells["margin"].tolist() == pytest.approx([0.2, -0.1])
    assert cells["mean"].tolist() == pytest.approx([0.7, 0.4])
    assert cells["run_ids"][0] == [f"0.1-{s}" for s in range(6)]
    assert cell_name(cells, 1) == "lr=1.0"


def test_seeds_past_the_last_look_are_counted_not_judged():
    frame = _runs({0.1: [0.1] * 6 + [-0.1, -0.1]})
    cells = cell_statistics(frame, ["lr", "seed"], Judging({}, ONE_LOOK, False), pd.DataFrame())
    row = cells.iloc[0]
    assert (row["decision"], row["judged"], row["beyond"], row["passed"]) == ("holds", 6, 2, 6)
    assert row["pass_rate_all"] == pytest.approx(6 / 8)
    assert cell_name(cells, 0) == "the only cell"
