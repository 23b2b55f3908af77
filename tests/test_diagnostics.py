"""diagnostics.py: the probes of a run's internals, each on arrays small enough to check by hand."""

import numpy as np
import pytest

from nnscratch import diagnostics as d


def test_a_unit_is_dead_when_it_outputs_zero_or_less_on_every_sample():
    A = np.array([[0.0, 0.0, 0.0], [0.0, 0.5, 0.0], [-1.0, -2.0, 0.0]], dtype=np.float32)
    assert d.dead_units(A).tolist() == [True, False, True]
    assert d.dead_fraction(A) == pytest.approx(2 / 3)
    assert d.dead_units(np.zeros((0, 4), np.float32)).tolist() == []  # no units: none dead


def test_the_zero_ratio_counts_activations_not_units():
    A = np.array([[0.0, 1.0], [0.0, 0.0]], dtype=np.float32)
    assert d.zero_ratio(A) == 0.75


@pytest.mark.parametrize(
    ("activation", "A", "expected"),
    [
        ("tanh", [[0.9999, 0.0], [-0.9999, 0.5]], 2 / 4),  # 1 - A^2 < 0.01 at |A| > 0.995
        ("sigmoid", [[0.999, 0.5], [0.001, 0.5]], 2 / 4),  # A (1 - A) < 0.01 near 0 and 1
    ],
)
def test_saturation_counts_activations_on_a_flat_end(activation, A, expected):
    assert d.saturated_fraction(np.array(A, np.float32), activation) == pytest.approx(expected)
    # two skipped (dead) units more: the same saturated activations over twice as many
    assert d.saturated_fraction(np.array(A, np.float32), activation, skipped=2) == pytest.approx(expected / 2)


def test_relu_has_no_saturation_to_report():
    assert np.isnan(d.saturated_fraction(np.ones((2, 2), np.float32), "relu"))


def test_effective_rank_counts_directions_not_copies():
    row = np.arange(1, 6, dtype=np.float32)
    assert d.effective_rank(np.stack([row, 2 * row, -row])) == 1.0  # scaled copies: one direction
    assert d.effective_rank(np.eye(3, 5, dtype=np.float32)) == 3.0
    assert d.effective_rank(np.zeros((3, 5), np.float32)) == 0.0
    assert np.isnan(d.effective_rank(np.array([[np.inf, 0.0]], np.float32)))


def test_distinct_units_compare_weights_and_bias_by_value():
    W = np.zeros((3, 4), np.float32)
    b = np.array([[0.0], [-0.0], [1.0]], np.float32)  # -0.0 is the same unit as 0.0
    assert d.distinct_units(W, b) == 2


def test_outcome_is_diverged_then_collapsed_then_ok():
    y = np.array([0, 0, 0, 1, 2, 3, 4, 5, 6, 7])  # majority rate 0.3
    good = y.copy()
    assert d.outcome(good, y, diverged=False, margin=0.1) == "ok"
    assert d.outcome(good, y, diverged=True, margin=0.1) == "diverged"
    assert d.outcome(np.zeros_like(y), y, diverged=False, margin=0.1) == "collapsed"  # one class
    two_classes = np.where(y == 1, 1, 0)
    assert d.outcome(two_classes, y, diverged=False, margin=0.1) == "collapsed"  # at most 2 classes
    near_majority = np.array([0, 0, 0, 1, 2, 3, 0, 0, 7, 6])  # accuracy 0.6 > 0.3 + 0.1: ok
    assert d.outcome(near_majority, y, diverged=False, margin=0.1) == "ok"
    assert d.outcome(near_majority, y, diverged=False, margin=0.31) == "collapsed"  # 0.6 <= 0.61
    assert d.majority_rate(y) == 0.3 and d.accuracy(good, y) == 1.0
