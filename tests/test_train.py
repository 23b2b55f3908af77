"""Training on the real MNIST, small: what learns, what collapses, and that it is reproducible."""

import copy

import numpy as np
import pytest

from nnscratch.data import prepare
from nnscratch.network import Init, init_params
from nnscratch.train import train


def with_changes(config: dict, **changes) -> dict:
    cfg = copy.deepcopy(config)
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        node = cfg
        for p in path:
            node = node[p]
        node[last] = value
    return cfg


@pytest.fixture(scope="module")
def scaled(mnist):
    return prepare(mnist, 1000, "unit")


def test_scaled_uniform_run_learns(small_config, scaled):
    result = train(small_config, scaled)
    assert result.metrics["test_acc"] >= 0.5
    assert result.metrics["outcome"] == "ok"
    assert [h["iteration"] for h in result.history] == [0, 1, 2, 4, 8, 16, 20, 40, 60, 80, 100]


def test_unscaled_run_does_not_learn(small_config, mnist):
    result = train(small_config, prepare(mnist, 1000, "none"))
    assert result.metrics["outcome"] in ("collapsed", "diverged")


def test_zero_weights_and_biases_do_not_learn_and_units_stay_identical(small_config, scaled):
    cfg = with_changes(small_config, weights__scheme="zeros", biases__scheme="zeros")
    result = train(cfg, scaled)
    assert result.metrics["outcome"] in ("collapsed", "diverged")
    assert all(h["distinct_l1"] == 1 for h in result.history)


def test_same_config_and_seed_give_identical_numbers(small_config, scaled):
    a, b = train(small_config, scaled), train(small_config, scaled)
    assert a.history == b.history
    c = train(with_changes(small_config, seed=1), scaled)
    assert c.history != a.history


def test_divergence_is_a_result_with_history_kept(small_config, mnist):
    cfg = with_changes(small_config, train__lr=1e30, weights__scheme="normal")
    result = train(cfg, prepare(mnist, 1000, "none"))
    assert result.metrics["outcome"] == "diverged"
    assert result.history and result.history[-1]["iteration"] < 100


def test_minibatch_sgd_learns_and_is_deterministic(small_config, scaled):
    cfg = with_changes(small_config, train__batch_size=100, train__iterations=200, train__eval_every=50)
    a, b = train(cfg, scaled), train(cfg, scaled)
    assert a.metrics["test_acc"] >= 0.5 and a.history == b.history


def test_two_hidden_layers_learn_and_report_both_layers(small_config, scaled):
    cfg = with_changes(small_config, model__hidden=[32, 16], weights__scheme="he")
    result = train(cfg, scaled)
    assert result.metrics["test_acc"] >= 0.5
    assert {"dead_l1", "dead_l2", "distinct_l2"} <= set(result.history[-1])


def test_negative_biases_kill_units_as_dead(scaled):
    """A unit with a large negative bias never activates: the diagnostic must count it."""
    from nnscratch.diagnostics import dead_fraction
    from nnscratch.network import forward

    params = init_params([784, 10, 10], [Init("uniform")] * 2, [Init("zeros")] * 2, seed=0)
    params["b"][0][:4] = -1e3
    _, As = forward(params, scaled.X_train)
    assert dead_fraction(As[1]) == pytest.approx(0.4)


def test_float32_end_to_end(small_config, scaled):
    from nnscratch.run_config import run_config
    from nnscratch.train.model import build_params

    assert scaled.X_train.dtype == np.float32
    params = build_params(run_config(small_config), scaled.n_inputs, scaled.n_classes)
    assert all(p.dtype == np.float32 for g in params.values() for p in g)


def test_every_activation_and_optimizer_trains_from_its_config_group(small_config, scaled):
    from nnscratch.config.compose import compose_run

    for overrides in (
        ["activation=leaky_relu"],
        ["activation=tanh"],
        ["optimizer=momentum"],
        ["optimizer=adam", "train.lr=0.001"],
    ):
        cfg, _ = compose_run(["data.subset=1000", "train.iterations=100", "train.eval_every=20", *overrides])
        result = train(cfg, scaled)
        assert result.metrics["outcome"] == "ok", overrides
        if overrides[0].startswith("activation"):
            assert np.isnan(result.history[-1]["dead_l1"])  # dead units: ReLU's notion only
    sigmoid, _ = compose_run(["data.subset=1000", "train.iterations=100", "activation=sigmoid"])
    assert train(sigmoid, scaled).history[-1]["loss"] < train(sigmoid, scaled).history[0]["loss"]


def test_minibatch_early_evaluations_stop_at_batch_8_and_never_change_training(small_config, scaled):
    """Each evaluation is a pass over the whole training set: a mini-batch run's early ones stop at batch
    8 (what nnscratch.diagnose reads), a full-batch run's go on to the first period; fewer evaluations
    leave every weight as it was."""
    from nnscratch.train import Stack

    cfg = with_changes(small_config, train__batch_size=100, train__iterations=60, train__eval_every=5)  # 50 batches
    sparse, dense = Stack([cfg], scaled), Stack([with_changes(cfg, train__eval_every=1)], scaled)
    history = sparse.train()[0].history
    dense.train()
    assert [h["iteration"] for h in history] == [0, 1, 2, 4, 8, 50, 60]
    for a, b in zip(sparse.models[0].params["W"], dense.models[0].params["W"]):
        np.testing.assert_array_equal(a, b)
    full = train(with_changes(small_config, train__iterations=60, train__eval_every=50), scaled)
    assert [h["iteration"] for h in full.history] == [0, 1, 2, 4, 8, 16, 32, 50, 60]
