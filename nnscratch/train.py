"""Gradient descent on the MLP, with a history of diagnostics every `eval_every` iterations.

One iteration is the log's: forward on the batch, loss, backward, `W -= lr * dW`. Full-batch by
default (batch_size null); mini-batch SGD draws a fresh permutation of the training set each epoch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from nnscratch import diagnostics as dg
from nnscratch.config import N_CLASSES, N_INPUTS, layer_inits
from nnscratch.data import Prepared
from nnscratch.network import Params, backward, cross_entropy, forward, init_params, log_softmax, one_hot, predict


@dataclass
class RunResult:
    """history: one dict per evaluation; metrics: the final numbers of the run."""

    history: list[dict]
    metrics: dict


def build_params(cfg: dict) -> Params:
    """Initial parameters for a run config."""
    hidden = list(cfg["model"]["hidden"])
    n_layers = len(hidden) + 1
    return init_params(
        [N_INPUTS, *hidden, N_CLASSES],
        layer_inits(cfg["weights"], n_layers),
        layer_inits(cfg["biases"], n_layers),
        cfg["seed"],
        cfg["model"].get("dtype", "float32"),
    )


def all_finite(params: Params) -> bool:
    return all(np.isfinite(p).all() for group in params.values() for p in group)


def evaluate(
    params: Params,
    grads: Params,
    As: list[np.ndarray],
    log_probs: np.ndarray,
    y: np.ndarray,
    data: Prepared,
    iteration: int,
) -> dict:
    """One history row from the training forward pass (As, log_probs over the full training set)
    and the current gradients; plus a forward pass on the test set."""
    test_pred = predict(params, data.X_test)
    row = {
        "iteration": iteration,
        "loss": cross_entropy(log_probs, y),
        "train_acc": dg.accuracy(log_probs.argmax(axis=0), y),
        "test_acc": dg.accuracy(test_pred, data.y_test),
        "test_classes": int(len(np.unique(test_pred))),
    }
    for l, A in enumerate(As[1:], start=1):
        row |= {
            f"dead_l{l}": dg.dead_fraction(A),
            f"zero_ratio_l{l}": dg.zero_ratio(A),
            f"act_mean_l{l}": float(A.mean(dtype=np.float64)),
            f"grad_norm_l{l}": float(np.linalg.norm(grads["W"][l - 1])),
            f"distinct_l{l}": dg.distinct_units(params["W"][l - 1], params["b"][l - 1]),
        }
    row["grad_norm_out"] = float(np.linalg.norm(grads["W"][-1]))
    return row


def batches(n: int, batch_size: int | None, rng: np.random.Generator):
    """Yield index arrays forever: everything (full batch) or shuffled mini-batches, epoch by epoch."""
    while True:
        if batch_size is None or batch_size >= n:
            yield None
            continue
        order = rng.permutation(n)
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start : start + batch_size]


def step_gradients(params: Params, X: np.ndarray, y: np.ndarray, Y: np.ndarray):
    """Forward + backward on one batch: (loss, grads, As, log_probs)."""
    Zs, As = forward(params, X)
    log_probs = log_softmax(Zs[-1])
    return cross_entropy(log_probs, y), backward(params, Zs, As, log_probs, Y), As, log_probs


def update(params: Params, grads: Params, lr: np.floating) -> None:
    """The gradient step, in place: W -= lr * dW, b -= lr * db."""
    for group in ("W", "b"):
        for p, g in zip(params[group], grads[group]):
            g *= lr
            p -= g


def train(cfg: dict, data: Prepared) -> RunResult:
    """Train one run config on prepared data; divergence stops the run and is reported, not raised."""
    t0 = time.perf_counter()
    tc = cfg["train"]
    lr, iterations, eval_every = tc["lr"], tc["iterations"], tc["eval_every"]
    params = build_params(cfg)
    dt = params["W"][0].dtype.type
    X, y = data.X_train, data.y_train
    Y = one_hot(y, N_CLASSES, params["W"][0].dtype)
    full_batch = tc.get("batch_size") is None or tc["batch_size"] >= len(y)
    next_batch = batches(len(y), tc.get("batch_size"), np.random.default_rng([cfg["seed"], 1]))
    history, diverged = [], False
    # overflow is how divergence shows; it is detected below and reported, so numpy need not warn
    with threadpool_limits(limits=tc["blas_threads"], user_api="blas"), np.errstate(over="ignore", invalid="ignore"):
        for it in range(iterations + 1):
            evaluating = it % eval_every == 0 or it == iterations
            idx = next(next_batch)
            if full_batch or evaluating:
                loss, grads, As, log_probs = step_gradients(params, X, y, Y)
                if evaluating:
                    history.append(evaluate(params, grads, As, log_probs, y, data, it))
            if not full_batch and it < iterations:
                loss, grads, _, _ = step_gradients(params, X[:, idx], y[idx], Y[:, idx])
            if not np.isfinite(loss):
                diverged = True
                break
            if it == iterations:
                break
            update(params, grads, dt(lr))
        diverged = diverged or not all_finite(params)
        return RunResult(history, final_metrics(params, data, history, diverged, tc["collapse_margin"], t0))


def final_metrics(
    params: Params, data: Prepared, history: list[dict], diverged: bool, margin: float, t0: float
) -> dict:
    """The run's final numbers: the last history row, with outcome and test accuracy of the final
    parameters (for a diverged run, the last evaluation's test accuracy stands)."""
    test_pred = predict(params, data.X_test)
    last = history[-1] if history else {}
    metrics = {k: v for k, v in last.items()}
    metrics |= {
        "outcome": dg.outcome(test_pred, data.y_test, diverged, margin),
        "best_test_acc": max((h["test_acc"] for h in history), default=float("nan")),
        "majority_rate": dg.majority_rate(data.y_test),
        "seconds": time.perf_counter() - t0,
    }
    if not diverged:
        metrics["test_acc"] = dg.accuracy(test_pred, data.y_test)
        metrics["test_classes"] = int(len(np.unique(test_pred)))
    return metrics
