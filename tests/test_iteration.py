"""The trainer is the written-out iteration of nnscratch.train.iteration, optimised beside it: bit for bit
alone with both skips off, within float32 rounding stacked or skipping, and the log's reference numbers."""

import copy

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from nnscratch.config.compose import compose_run
from nnscratch.data import prepare
from nnscratch.network import one_hot
from nnscratch.run_config import run_config
from nnscratch.train import Stack, train
from nnscratch.train.iteration import iteration, predicted_classes
from nnscratch.train.model import build_params


def plain_training(cfg: dict, data) -> tuple[dict, float]:
    """The config's parameters after its iterations of `iteration` (1 BLAS thread, as the run's
    train.blas_threads: OpenBLAS rounds by thread count), and the loss of the pass after the last step."""
    params = build_params(run_config(cfg), data.n_inputs, data.n_classes)
    Y, lr = one_hot(data.y_train, data.n_classes), np.float32(cfg["train"]["lr"])
    with threadpool_limits(1, user_api="blas"):
        for _ in range(cfg["train"]["iterations"]):
            iteration(params, data.X_train, data.y_train, Y, lr)
        loss = iteration(copy.deepcopy(params), data.X_train, data.y_train, Y, lr)
    return params, loss


def stack_params(cfgs: list[dict], data) -> list[dict]:
    stack = Stack(cfgs, data)
    stack.train()
    return [m.params for m in stack.models]


@pytest.fixture(scope="module")
def scaled(mnist):
    return prepare(mnist, 1000, "unit")


def no_skips(cfg: dict, hidden: int = 10, seed: int = 0) -> dict:
    cfg = copy.deepcopy(cfg)
    cfg["train"]["skip_dead"], cfg["model"]["hidden"], cfg["seed"] = False, [hidden], seed
    return cfg


def test_a_run_alone_without_skips_is_the_written_out_iteration_bit_for_bit(small_config, scaled):
    cfg = no_skips(small_config)
    params, loss = plain_training(cfg, scaled)
    [trained] = stack_params([cfg], scaled)
    for group in ("W", "b"):
        for ours, plain in zip(trained[group], params[group]):
            np.testing.assert_array_equal(ours, plain)
    result = train(cfg, scaled)
    assert result.history[-1]["loss"] == loss
    assert result.metrics["test_acc"] == float((predicted_classes(params, scaled.X_test) == scaled.y_test).mean())


def test_stacked_runs_are_the_iteration_within_float32_rounding(small_config, scaled):
    cfgs = [no_skips(small_config, hidden, seed) for hidden, seed in ((10, 0), (32, 1))]
    for trained, cfg in zip(stack_params(cfgs, scaled), cfgs):
        params, _ = plain_training(cfg, scaled)
        for ours, plain in zip(trained["W"] + trained["b"], params["W"] + params["b"]):
            np.testing.assert_allclose(ours, plain, rtol=1e-4, atol=1e-5)


def test_the_reference_run_gives_the_logs_numbers_through_the_iteration(mnist):
    """`python -m experiments.train` (skips on) and the written-out iteration (no skips) agree at the
    four decimals the reference run prints: train_acc 0.8632, test_acc 0.8379."""
    cfg = compose_run([])[0]
    data = prepare(mnist, cfg["data"]["subset"], cfg["data"]["scaling"])
    params, _ = plain_training(cfg, data)
    result = train(cfg, data)
    plain_train = float((predicted_classes(params, data.X_train) == data.y_train).mean())
    plain_test = float((predicted_classes(params, data.X_test) == data.y_test).mean())
    assert (round(plain_train, 4), round(plain_test, 4)) == (0.8632, 0.8379)
    assert (round(result.metrics["train_acc"], 4), round(result.metrics["test_acc"], 4)) == (0.8632, 0.8379)
