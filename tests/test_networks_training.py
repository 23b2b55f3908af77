"""nnscratch.networks.training on tiny data (12 inputs, 10 classes, 40 images): a user's network
(examples/tutorial_net.py) trained with the built-in network's evaluations, history columns and final
metrics, and each piece on its own: a history row from the user's arrays, the loss of a zero
probability, the evaluation schedule, the initial parameters, and what a run of one's own refuses."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from nnscratch.data import Prepared
from nnscratch.networks.loading import UserCodeError, load_notebook
from nnscratch.networks.training import (
    NotebookPass,
    as_params,
    cross_entropy_of,
    evaluating,
    initial_params,
    notebook_history_row,
    train_notebook,
)
from nnscratch.paths import CONF_DIR
from nnscratch.run_config import DataConfig, ModelConfig, NormalInitConfig, RunConfig, TrainConfig
from nnscratch.train.model import build_params
from nnscratch.train.stack import train

EXAMPLE = CONF_DIR.parent / "examples" / "tutorial_net.py"
RNG = np.random.default_rng(0)
DATA = Prepared(
    RNG.random((12, 40), np.float32),
    np.arange(40) % 10,
    RNG.random((12, 20), np.float32),
    np.arange(20) % 10,
    10,
)
CFG = RunConfig(
    DataConfig(name="tiny"),
    NormalInitConfig("normal", std=0.5),
    NormalInitConfig("normal", std=0.1),
    ModelConfig(hidden=[6]),
    train=TrainConfig(lr=0.5, iterations=30, eval_every=10, skip_dead=False),
    seed=2,
)


@pytest.fixture(scope="module")
def tutorial():
    network = {"name": "notebook", "source": str(EXAMPLE), "functions": {}, "call_timeout": 60}
    return load_notebook(network, probe=False)


def test_the_tutorials_run_records_what_the_built_in_network_records(tutorial):
    mine, builtin = train_notebook(CFG, DATA, tutorial), train(CFG, DATA)
    assert [h["iteration"] for h in mine.history] == [h["iteration"] for h in builtin.history] == [
        0, 1, 2, 4, 8, 10, 20, 30
    ]  # fmt: skip
    for a, b in zip(mine.history, builtin.history):
        for key in ("loss", "train_acc", "test_acc", "dead_l1", "act_mean_l1", "grad_norm_l1", "grad_norm_out"):
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6), (a["iteration"], key)
    assert mine.metrics["network_sha256"] == tutorial.sha256 and mine.metrics["live_fraction"] == 1.0
    assert (mine.metrics["outcome"], mine.metrics["test_acc"]) == (
        builtin.metrics["outcome"],
        builtin.metrics["test_acc"],
    )


def test_a_history_row_from_the_users_arrays():
    W1 = np.array([[1.0, 0.0], [0.0, -1.0], [0.0, 0.0]])
    arrays = [W1, np.zeros((3, 1)), np.ones((2, 3)), np.zeros((2, 1))]
    Z1 = np.array([[1.0, -2.0, 3.0], [-1.0, -1.0, -1.0], [0.0, 0.0, 0.0]])  # units 2 and 3 dead
    A1 = np.maximum(Z1, 0)
    A2 = np.array([[0.9, 0.5, 0.2], [0.1, 0.5, 0.8]])  # predicts 0, 0, 1
    grads = (np.full((3, 2), 1.0), np.zeros((3, 1)), np.array([[3.0, 0.0, 0.0], [4.0, 0.0, 0.0]]), np.zeros((2, 1)))
    data = Prepared(np.zeros((2, 3)), np.array([0, 1, 1]), np.zeros((2, 4)), np.array([1, 1, 0, 0]), 2)
    row = notebook_history_row(7, NotebookPass(arrays, (Z1, A1, None, A2), grads), np.array([1, 0, 0, 0]), data)
    assert row["iteration"] == 7
    assert row["loss"] == pytest.approx(-(np.log(0.9) + np.log(0.5) + np.log(0.8)) / 3)
    assert row["train_acc"] == pytest.approx(2 / 3) and row["test_acc"] == pytest.approx(3 / 4)
    assert row["test_classes"] == 2
    assert row["dead_l1"] == pytest.approx(2 / 3)
    assert row["pre_abs_l1"] == pytest.approx(9 / 9)
    assert row["grad_norm_out"] == pytest.approx(5.0) and row["grad_norm_l1"] == pytest.approx(np.sqrt(6))
    assert row["rank_l1"] == 2.0 and np.isnan(row["saturated_l1"])


def test_a_zero_probability_counts_as_float32s_smallest_a_finite_loss():
    A2 = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert cross_entropy_of(A2, np.array([0, 1])) == 0.0
    assert cross_entropy_of(A2, np.array([1, 1])) == pytest.approx(-np.log(np.finfo(np.float32).tiny) / 2)


def test_evaluations_at_1_2_4_8_then_every_period_and_the_last():
    assert [i for i in range(26) if evaluating(i, 25, 10)] == [0, 1, 2, 4, 8, 10, 20, 25]


def test_initial_params_are_the_built_in_networks_and_biases_broadcast_as_columns(tutorial):
    arrays = initial_params(CFG, tutorial, 12, 10)
    params = build_params(CFG, 12, 10)
    assert all(
        np.array_equal(a, b) for a, b in zip(arrays, [params["W"][0], params["b"][0], params["W"][1], params["b"][1]])
    )
    scalar_bias = as_params([arrays[0], np.float32(0.5), arrays[2], arrays[3]])
    assert scalar_bias["b"][0].shape == (6, 1) and (scalar_bias["b"][0] == 0.5).all()


def test_a_run_of_ones_own_refuses_mini_batches_and_stops_when_asked(tutorial):
    with pytest.raises(UserCodeError, match="train.batch_size: a network of your own trains full-batch"):
        train_notebook(replace(CFG, train=replace(CFG.train, batch_size=8)), DATA, tutorial)
    with pytest.raises(KeyboardInterrupt, match="starts again on resume"):
        train_notebook(CFG, DATA, tutorial, stop_asked=lambda: True)
