"""nnscratch.train.history on tiny hand-made passes: a hidden layer's diagnostics with skipped dead units, one
history row, a run's final metrics and a stack's time shared between its runs."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from nnscratch.network import Activation
from nnscratch.train.history import RunEnd, final_metrics, history_row, layer_row, share_time

A = np.array([[0.0, 1.0, 2.0], [0.0, 0.0, 0.0]], np.float32)  # 2 units computed, 3 samples; the second is dead
W1 = np.array([[1.0, 2.0], [1.0, 2.0], [0.5, 0.0]], np.float32)  # units 0 and 1 share weights ...
B1 = np.array([[0.0], [0.0], [1.0]], np.float32)  # ... and bias: 2 distinct units of 3
GRADS = {"W": [np.array([[3.0, 4.0], [0.0, 0.0], [0.0, 0.0]]), np.array([[0.0, 0.0, 6.0], [8.0, 0.0, 0.0]])]}


def test_layer_row_counts_skipped_units_as_dead_zeros():
    row = layer_row(1, A, 1, {"W": [W1], "b": [B1]}, GRADS)
    assert row["dead_l1"] == pytest.approx(2 / 3)  # one computed dead unit + one skipped, of 3
    assert row["zero_ratio_l1"] == pytest.approx(7 / 9)  # 4 zeros in A + 3 of the skipped unit, of 3 x 3
    assert row["act_mean_l1"] == pytest.approx(3 / 9)
    assert row["grad_norm_l1"] == pytest.approx(5.0)  # ||(3, 4)||
    assert row["distinct_l1"] == 2


def test_layer_row_has_no_dead_units_for_an_activation_that_cannot_die():
    assert math.isnan(layer_row(1, A, 0, {"W": [W1], "b": [B1]}, GRADS, can_die=False)["dead_l1"])


def _model_and_pass(weights=None):
    params = {"W": [W1, np.zeros((2, 3), np.float32)], "b": [B1, np.zeros((2, 1), np.float32)]}
    model = SimpleNamespace(iteration=7, width=3, live=np.array([0, 1]), params=params)
    log_probs = np.log(np.array([[0.9, 0.2, 0.6], [0.1, 0.8, 0.4]]))  # predicts classes 0, 1, 0
    Z1 = np.array([[-1.0, 1.0, 2.0], [-2.0, -3.0, -3.0]], np.float32)
    step = SimpleNamespace(loss=0.5, grads=GRADS, As=[A], log_probs=log_probs, weights=weights, Z1=Z1)
    return model, step


def test_history_row_from_a_pass_and_the_test_predictions():
    model, step = _model_and_pass()
    data = SimpleNamespace(y_train=np.array([0, 1, 1]), y_test=np.array([1, 0, 0, 1]))
    row = history_row(model, step, np.array([1, 1, 0, 1]), data, Activation())
    assert (row["iteration"], row["loss"]) == (7, 0.5)
    assert row["train_acc"] == pytest.approx(2 / 3)  # predicted 0, 1, 0 against 0, 1, 1
    assert row["test_acc"] == pytest.approx(3 / 4)  # 1, 1, 0, 1 against 1, 0, 0, 1
    assert row["test_classes"] == 2
    assert row["dead_l1"] == pytest.approx(2 / 3)  # width 3, 2 live: one skipped unit
    assert row["pre_abs_l1"] == pytest.approx(12 / 6)  # mean |Z1|
    assert row["grad_norm_out"] == pytest.approx(10.0)  # ||(6, 8)||
    assert row["rank_l1"] == 2.0  # rows (1, 2), (1, 2), (0.5, 0): two directions
    assert math.isnan(row["saturated_l1"])  # ReLU has no flat end


def test_history_row_of_a_constant_pass_reads_the_class_frequencies():
    model, step = _model_and_pass(weights=np.array([0.3, 0.7]))
    step.log_probs = step.log_probs[:, 1:2]  # one column standing for every sample: predicts class 1
    row = history_row(
        model, step, np.array([1]), SimpleNamespace(y_train=np.array([0, 1, 1]), y_test=np.array([1])), Activation()
    )
    assert row["train_acc"] == pytest.approx(0.7)


HISTORY = [
    {"iteration": 1, "test_acc": 0.9},
    {"iteration": 10, "test_acc": 0.5},
    {"iteration": 20, "test_acc": 0.6, "loss": 1.0},
]
DATA = SimpleNamespace(y_test=np.array([0, 1, 2, 2]))


def test_final_metrics_of_a_finished_run_use_its_final_predictions():
    metrics = final_metrics(RunEnd(np.array([0, 1, 2, 0]), False, 1.5), DATA, HISTORY, 0.05, regular=HISTORY[1:])
    assert metrics["test_acc"] == pytest.approx(3 / 4)
    assert metrics["test_classes"] == 3
    assert metrics["best_test_acc"] == 0.6  # the early row at iteration 1 left out
    assert metrics["majority_rate"] == pytest.approx(2 / 4)
    assert (metrics["loss"], metrics["outcome"], metrics["seconds"]) == (1.0, "ok", 1.5)
    assert final_metrics(RunEnd(np.array([0, 1, 2, 0]), False, 1.5), DATA, HISTORY, 0.05)["best_test_acc"] == 0.9


def test_final_metrics_of_a_diverged_run_keep_the_last_evaluation():
    metrics = final_metrics(RunEnd(np.array([0, 1, 2, 2]), True, 1.5), DATA, HISTORY, 0.05)
    assert (metrics["test_acc"], metrics["outcome"]) == (0.6, "diverged")


def test_share_time_splits_a_stacks_seconds_by_the_work_each_run_did():
    models = [
        SimpleNamespace(unit_passes=30, n_passes=10, width=4, history=[], final={}),
        SimpleNamespace(unit_passes=10, n_passes=10, width=4, history=[], final={}),
    ]
    results = share_time(models, 6.0)
    assert [r.metrics["seconds"] for r in results] == pytest.approx([4.0, 2.0])  # work 40 and 20
    assert [r.metrics["live_fraction"] for r in results] == pytest.approx([0.75, 0.25])
