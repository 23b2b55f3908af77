"""The report's opening answer: effects of each level against its axis's baseline, paired by seed, checked
against a hand computation on a tiny grid, and said in sentences."""

import itertools
import math

import pandas as pd
import pytest

from nnscratch.report import effects

# he minus uniform on the same seed: at lr 0.1 +2, +3, +4 points; at lr 0.5 -5, -4, -6 points
UNIFORM = {("0.1", 0): 0.80, ("0.1", 1): 0.81, ("0.1", 2): 0.79, ("0.5", 0): 0.85, ("0.5", 1): 0.84, ("0.5", 2): 0.86}
HE_MINUS_UNIFORM = {("0.1", 0): 0.02, ("0.1", 1): 0.03, ("0.1", 2): 0.04, ("0.5", 0): -0.05, ("0.5", 1): -0.04}
HE_MINUS_UNIFORM[("0.5", 2)] = -0.06
ORDER = {"weights": ["uniform", "he"], "train.lr": ["0.1", "0.5"]}


def tiny_grid() -> pd.DataFrame:
    """weights [uniform, he] x train.lr [0.1, 0.5] x 3 seeds, listed he first (the grid's order must win);
    one he run (lr 0.5, seed 0) collapsed."""
    rows = []
    for w, lr, seed in itertools.product(["he", "uniform"], ["0.1", "0.5"], [0, 1, 2]):
        acc = UNIFORM[(lr, seed)] + (HE_MINUS_UNIFORM[(lr, seed)] if w == "he" else 0)
        lost = w == "he" and lr == "0.5" and seed == 0
        rows.append(
            {"weights": w, "train.lr": float(lr), "seed": seed, "test_acc": acc, "status": "finished"}
            | {"outcome": "collapsed" if lost else "ok"}
        )
    return pd.DataFrame(rows)


AXES = ["weights", "train.lr", "seed"]


def test_effect_of_a_level_is_the_paired_mean_and_t_interval_computed_by_hand():
    eff = effects.effects(tiny_grid(), AXES, ORDER, 0.95)
    he = eff[eff["axis"] == "weights"].iloc[0]
    assert (he["level"], he["baseline"], he["pairs"]) == ("he", "uniform", 6)
    # by hand: differences +2 +3 +4 -5 -4 -6 points: mean -1.0; sd = sqrt(100e-4 / 5) = 0.044721;
    # half width = t(0.975, 5) 2.5706 * 0.044721 / sqrt(6) = 0.046932
    assert he["acc"].mean == pytest.approx(-0.01, abs=1e-9)
    assert (he["acc"].low, he["acc"].high) == pytest.approx((-0.056932, 0.036932), abs=2e-6)
    assert not he["acc"].clear
    # did not learn: 1 of 6 he runs, 0 of 6 uniform; paired 1/0 differences: mean 1/6
    assert (he["lost_level"], he["lost_baseline"]) == (1, 0) and he["lost"].mean == pytest.approx(1 / 6)
    lr = eff[eff["axis"] == "train.lr"].iloc[0]
    assert (lr["level"], lr["baseline"], lr["pairs"]) == ("0.5", "0.1", 6)


def test_an_effect_that_changes_sign_across_another_axis_is_an_interaction_computed_by_hand():
    inter = effects.interactions(tiny_grid(), AXES, ORDER, 0.95)
    row = inter[(inter["axis"] == "weights") & (inter["by"] == "train.lr")].iloc[0]
    assert (row["at"], row["by_baseline"]) == ("0.5", "0.1")
    # by hand, per seed: (-5 - 2, -4 - 3, -6 - 4) = -7, -7, -10 points: mean -8; sd 0.017321;
    # half width = t(0.975, 2) 4.3027 * 0.017321 / sqrt(3) = 0.043027
    assert row["acc_change"].mean == pytest.approx(-0.08)
    assert (row["acc_change"].low, row["acc_change"].high) == pytest.approx((-0.123027, -0.036973), abs=2e-6)
    assert row["changes"]
    # the effect at lr 0.1: +2 +3 +4 -> +3 [3 - 2.4842, 3 + 2.4842] points
    assert (row["acc_at_baseline"].low, row["acc_at_baseline"].high) == pytest.approx((0.005158, 0.054842), abs=2e-6)


def test_the_summary_says_each_effect_in_a_sentence_per_level_of_the_axis_it_changes_with():
    grid = tiny_grid()
    eff, inter = effects.effects(grid, AXES, ORDER), effects.interactions(grid, AXES, ORDER)
    he = eff[eff["axis"] == "weights"].iloc[0]
    assert effects.summary_sentence(he, inter) == (
        "weights = he beats uniform by 3.0 [0.5, 5.5] points at train.lr = 0.1 and falls behind uniform by "
        "5.0 [2.5, 7.5] points at train.lr = 0.5; 1 of 6 runs did not learn, against 0 of 6 at uniform."
    )
    table = effects.effect_table(eff, inter)
    assert table.loc[0, "test accuracy, level minus baseline"] == "−1.0 [−5.7, +3.7] points"
    assert table.loc[0, "effect on accuracy changes with"] == "train.lr = 0.5 (vs 0.1): −8.0 [−12.3, −3.7] points"
    # did not learn, paired 0 0 0 1 0 0: mean 1/6, sd sqrt(1/6), half width 2.5706 * sqrt(1/6) / sqrt(6) = 0.4284
    assert (
        table.loc[0, "runs that did not learn"]
        == "1 of 6, against 0 of 6 at uniform (rate +16.7 [−26.2, +59.5] points)"
    )
    assert table.loc[1, "runs that did not learn"] == "1 of 6, against 0 of 6 at 0.1 (rate +16.7 [−26.2, +59.5] points)"


def test_a_level_without_an_interval_says_why_in_words():
    assert effects.interval_text(effects.Interval(math.nan, math.nan, math.nan, 0)) == "no pairs"
    one = effects.Interval(0.012, math.nan, math.nan, 1)
    assert effects.interval_text(one) == "+1.2 points (one pair: no interval)"
    assert effects.interval_text(effects.Interval(-0.5, -0.5, -0.5, 4)) == "−50.0 points on every one of 4 pairs"
    same = effects.paired_interval([-0.5, -0.5, -0.5, -0.5], 0.95)
    assert effects.accuracy_words("uniform", same) == "falls behind uniform by 50.0 points on all 4 pairs"


def test_the_grids_own_order_names_the_baseline_and_null_is_a_level():
    record = {"products": {"main": {"weights": ["uniform", "he"], "train.batch_size": [None, 100]}}}
    order = effects.grid_order(record)
    assert order == {"weights": ["uniform", "he"], "train.batch_size": ["null", "100"]}
    runs = pd.DataFrame({"train.batch_size": [100.0, math.nan], "weights": ["he", "uniform"]})
    assert effects.baseline_and_levels(runs.assign(b=runs["train.batch_size"].map(effects.level_text)), "b", {}) == [
        "100",
        "null",
    ]
    assert effects.baseline_and_levels(runs, "weights", order) == ["uniform", "he"]
    # an extra lists 3000 iterations; the base config's 500 is listed by no product: it is the baseline
    extra = pd.DataFrame({"train.iterations": ["3000", "500", "500"]})
    assert effects.baseline_and_levels(extra, "train.iterations", {"train.iterations": ["3000"]}) == ["500", "3000"]


def test_runs_that_did_not_learn_on_both_sides_are_said_once_and_swapped_ones_are_not():
    same = pd.Series({"pairs": 4, "lost_level": 2, "lost_baseline": 2, "baseline": "uniform"})
    assert effects.lost_text({**same, "lost": effects.paired_interval([0] * 4, 0.95)}) == ("2 of 4 at both levels")
    swapped = {**same, "lost_level": 1, "lost_baseline": 1, "lost": effects.paired_interval([1, -1, 0, 0], 0.95)}
    assert effects.lost_text(swapped).startswith("1 of 4, against 1 of 4 at uniform (rate +0.0 [−")
