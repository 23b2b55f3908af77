"""nnscratch.report.figures: the decisions behind the figures on a few hand-made runs (null levels, which
runs a large grid draws, which axes make the heatmaps' rows, columns and panels, numeric level order, a
cell's label and red outline), the seeded jitter, the panel drawn alone, and one PNG saved."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from nnscratch.report import figures
from nnscratch.report.figures import (
    HeatGrid,
    alone,
    cell_labels,
    draw_heatmap,
    drawn,
    facet_levels,
    fixed_jitter,
    heat_axes,
    level_order,
    null_levels,
    panel_combos,
    save,
)

RUNS = pd.DataFrame(
    {
        "weights": ["normal", "normal", "zeros", "zeros"],
        "data.subset": [1000, 5000, 1000, 5000],
        "train.batch_size": [None, 64, None, 64],
        "seed": [0, 0, 0, 0],
        "test_acc": [0.8, 0.9, 0.1, 0.1],
        "outcome": ["ok", "ok", "collapsed", "collapsed"],
    }
)
AXES = ["weights", "data.subset", "train.batch_size", "seed"]


def test_null_levels_draws_a_missing_value_as_its_own_level():
    assert null_levels(RUNS, AXES)["train.batch_size"].tolist() == ["null", 64, "null", 64]
    assert null_levels(RUNS, AXES)["weights"].tolist() == RUNS["weights"].tolist()


def test_a_large_grid_draws_a_fixed_sample(monkeypatch):
    assert drawn(RUNS) == (RUNS, "")
    monkeypatch.setattr(figures, "MAX_RUNS_DRAWN", 3)
    first, note = drawn(RUNS)
    assert len(first) == 3 and note == " — a random 3 of 4 runs"
    assert first.index.tolist() == drawn(RUNS)[0].index.tolist()


def test_heat_axes_prefer_the_subset_then_the_first_varying_factors():
    # varying: weights, data.subset, train.batch_size (NaN counted as a level); data.subset preferred
    assert heat_axes(RUNS, AXES) == ("data.subset", "weights", ["train.batch_size"])
    assert heat_axes(RUNS.assign(**{"data.subset": 1000}), AXES) == ("weights", "train.batch_size", [])
    assert heat_axes(RUNS.iloc[:1], AXES) == (None, None, [])


def test_level_order_is_numeric_for_numbers_and_lists_of_numbers():
    assert level_order(pd.Series(["[64,32]", "[128]", "[8]", None])) == ["[8]", "[64,32]", "[128]"]
    assert level_order(pd.Series([10, 9, 100])) == [9, 10, 100]
    assert level_order(pd.Series(["zeros", "0.5", "normal"])) == ["0.5", "normal", "zeros"]


def test_panel_combos_lists_the_levels_that_have_runs():
    assert panel_combos(RUNS, []) == [{}]
    runs = RUNS.iloc[:3]
    assert panel_combos(runs, ["weights", "data.subset"]) == [
        {"weights": "normal", "data.subset": 1000},
        {"weights": "normal", "data.subset": 5000},
        {"weights": "zeros", "data.subset": 1000},
    ]


def test_facet_levels_of_absent_axes_are_one_level():
    assert facet_levels(RUNS, "data.subset", None) == ([1000, 5000], ["all"])


def test_a_cell_most_of_whose_seeds_failed_is_labelled_with_their_outcome():
    ok = pd.DataFrame({"test_acc": [0.8, 0.9], "outcome": ["ok", "collapsed"]})
    mean, text, bad = cell_labels(ok)
    assert (mean, bad) == (np.mean([0.8, 0.9]), False)
    assert text == f"0.85\n±{np.std([0.8, 0.9], ddof=1):.2f}"
    failed = pd.DataFrame({"test_acc": [0.1], "outcome": ["diverged"]})
    assert cell_labels(failed) == (0.1, "0.10\nDIVERGED", True)
    assert cell_labels(failed.assign(outcome="failed"))[1:] == ("0.10\nFAILED", True)


def test_draw_heatmap_outlines_failing_cells_in_red():
    fig, ax = plt.subplots()
    draw_heatmap(ax, RUNS, HeatGrid("data.subset", "weights", [1000, 5000], ["normal", "zeros"]), None)
    outlined = [(p.get_x(), p.get_y()) for p in ax.patches if isinstance(p, plt.Rectangle) and p.get_fill() is False]
    plt.close(fig)
    assert sorted(outlined) == [(1.04, 0.04), (1.04, 1.04)]  # column "zeros", both rows


def test_fixed_jitter_repeats_the_same_draws_and_puts_the_callers_state_back():
    np.random.seed(7)
    expected_next = np.random.random()
    np.random.seed(7)
    with fixed_jitter():
        a = np.random.random(3)
    with fixed_jitter():
        b = np.random.random(3)
    assert np.array_equal(a, b)
    assert np.random.random() == expected_next


def test_alone_hides_the_other_panels_while_one_is_drawn():
    fig, (left, right) = plt.subplots(1, 2)
    with alone(left):
        assert (left.get_visible(), right.get_visible()) == (True, False)
    assert right.get_visible()
    plt.close(fig)


def test_save_writes_a_png_and_closes_the_figure(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    path = save(fig, tmp_path / "line.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)
