"""nnscratch.claims.wording on hand-made cell tables: the method filled in with a design's numbers, the
family's error, the axis that splits a conditional verdict, and a cell's numbers and open reasons in words."""

from __future__ import annotations

import math

import pandas as pd

from nnscratch.claims.design import design
from nnscratch.claims.wording import (
    beyond_text,
    cells_said,
    family_text,
    margin_text,
    method_text,
    outcome_text,
    separating_axis,
    undecided_text,
)

ONE_LOOK = design({"sequential": {"looks": [6]}})  # holds at 6 of 6 passes, fails at 0 of 6 (see test_claims_cells)


def _cell(**given) -> dict:
    row = {
        "margin": 0.05, "low": -0.01, "high": 0.11, "median": 0.04, "seeds": 3, "failed": 1,
        "fail_rate_low": 0.01, "fail_rate_high": 0.9, "outcomes": "ok 3", "beyond": 0, "judged": 3,
        "pass_rate_all": 2 / 3, "decision": "undecided", "alone": "undecided", "seeds_needed": 6,
        "futility": "", "basis": "exact binomial test",
    }  # fmt: skip
    return row | given


def test_method_text_states_the_designs_looks_and_pass_counts():
    text = method_text(ONE_LOOK)
    assert "at most 0.031" in text  # 2 / 64
    assert "holds when 6 of 6 pass, fails when 0 or fewer of 6 pass" in text
    assert "Seeds past the last look (6)" in text


def test_family_text_gives_the_union_bound_and_the_independent_chance():
    text = family_text(0.05, 3)
    assert "≤ 0.050 on its own" in text
    assert "≤ 0.15 (union bound)" in text  # 3 x 0.05
    assert f"{1 - 0.95**3:.2f} if independent" in text  # 0.14
    assert "≤ 1.00 (union bound)" in family_text(0.3, 5)  # a bound is never above 1


def test_separating_axis_names_the_levels_that_hold_and_those_that_do_not():
    cells = pd.DataFrame({"lr": [0.1, 0.1, 1.0, 1.0], "width": [16, 64, 16, 64], "margin": [1, 2, -1, -2]})
    holds = pd.Series([True, True, False, False])
    assert separating_axis(cells, holds) == "holds for lr = 0.1; not for lr = 1.0"


def test_separating_axis_is_none_when_no_axis_splits_cleanly():
    cells = pd.DataFrame({"lr": [0.1, 0.1, 1.0, 1.0], "width": [16, 64, 16, 64]})
    assert separating_axis(cells, pd.Series([True, False, False, True])) is None


def test_outcome_text_bounds_the_failure_rate():
    cells = pd.DataFrame([_cell(failed=0, fail_rate_high=0.71), _cell()])
    assert outcome_text(cells, 0) == "0 of 3 seeds failed (failure rate ≤ 0.71); outcomes: ok 3"
    assert outcome_text(cells, 1) == "1 of 3 seeds failed (failure rate 0.01–0.90); outcomes: ok 3"


def test_margin_text_without_an_interval_says_so():
    cells = pd.DataFrame([_cell(low=-math.inf, high=math.inf)])
    assert margin_text(cells, 0).startswith("median margin +0.04, margin +0.05 no interval; 1 of 3 seeds failed")


def test_beyond_text_only_for_cells_with_seeds_past_the_last_look():
    cells = pd.DataFrame([_cell(), _cell(seeds=8, beyond=2, judged=6, pass_rate_all=0.75)])
    assert beyond_text(cells, 0, "8 seeds") == ""
    assert beyond_text(cells, 1, "8 seeds") == (
        "; judged on its first 6 seeds (the design's last look), the 2 seeds past it reported only: "
        "75% of all 8 seeds pass"
    )


def test_undecided_text_groups_open_cells_by_reason():
    cells = pd.DataFrame(
        [
            {"lr": 0.1} | _cell(),
            {"lr": 1.0} | _cell(),
            {"lr": 3.0} | _cell(decision="holds", alone="holds"),
            {"lr": 9.0} | _cell(alone="holds", seeds_needed=None),
        ]
    )
    text = undecided_text(cells)
    assert text.startswith("undecided: exact binomial test — 2 cells, each ")
    assert "a decision is still possible at 6 seeds: lr=0.1 · lr=1.0" in text
    assert "undecided: not kept by Holm across the cells — lr=9.0 (" in text
    assert "lr=3.0" not in text


def test_cells_said_lists_each_cell_when_their_numbers_differ():
    assert cells_said([("a", "1"), ("b", "2")]) == "a (1); b (2)"
    assert cells_said([("a", "1"), ("b", "1")]) == "2 cells, each 1: a · b"
