"""A run of a user's network: the harness's data, initial parameters, iterations and records; the
user's forward, backward and update, the parameters kept in the run's dtype (model.dtype, float32).
One full-batch iteration, as the tutorial's gradient_descent:

    Z1, A1, Z2, A2 = forward_prop(W1, b1, W2, b2, X)
    dW1, db1, dW2, db2 = backward_prop(Z1, A1, Z2, A2, W1, W2, X, Y)
    W1, b1, W2, b2 = update_params(W1, b1, W2, b2, dW1, db1, dW2, db2, lr)

with the same evaluations (iterations 1, 2, 4, ... then every eval_every), history columns and final
metrics as the built-in network's (nnscratch.train.history), so that diagnoses, claims and reports read
both alike. A user's run trains alone (no stacking, no dead-unit skipping, no checkpoint).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from nnscratch import diagnostics as dg
from nnscratch.data import Prepared
from nnscratch.network import Params
from nnscratch.networks.loading import Notebook, UserCodeError
from nnscratch.run_config import RunConfig, run_config
from nnscratch.train.history import RunEnd, RunResult, final_metrics, layer_row
from nnscratch.train.model import build_params

REPORT_EVERY = 1.0  # seconds between progress reports


def initial_params(cfg: RunConfig, nb: Notebook, n_inputs: int, n_classes: int) -> list[np.ndarray]:
    """[W1, b1, W2, b2] of a run: drawn by the harness's schemes at model.hidden (the same arrays the
    built-in network starts from on the same seed), or, with weights=user, the file's init_params()
    (seeded with the run's seed through NumPy's global generator, which the tutorial's code uses)."""
    dt = np.dtype(cfg.model.dtype)
    if cfg.weights.scheme == "user":
        np.random.seed(cfg.seed)
        arrays = [np.asarray(a).astype(dt) for a in nb.call("init")]
        (hidden,) = cfg.model.hidden
        expected = [(hidden, n_inputs), (hidden, 1), (n_classes, hidden), (n_classes, 1)]
        for name, a, shape in zip(("W1", "b1", "W2", "b2"), arrays, expected):
            if a.shape != shape:
                raise UserCodeError(
                    f"{nb.names['init']} returned {name} of shape {a.shape}, expected {shape} for "
                    f"model.hidden=[{hidden}]: with weights=user the hidden size is the file's"
                )
        return arrays
    params = build_params(cfg, n_inputs, n_classes)
    return [params["W"][0], params["b"][0], params["W"][1], params["b"][1]]


def cross_entropy_of(A2: np.ndarray, y: np.ndarray) -> float:
    """Mean -log of each sample's probability of its label, A2 (classes, N) and y (N,); a probability
    of 0 counts as the smallest float32 (a finite loss of ~103), as a log-space softmax would give."""
    p = A2[y, np.arange(len(y))].astype(np.float64)
    return float(-np.log(np.maximum(p, np.finfo(np.float32).tiny)).mean())


def as_params(arrays: list[np.ndarray]) -> Params:
    W1, b1, W2, b2 = arrays
    return {"W": [W1, W2], "b": [np.broadcast_to(b1, (W1.shape[0], 1)), np.broadcast_to(b2, (W2.shape[0], 1))]}


@dataclass(frozen=True)
class NotebookPass:
    """One iteration of the user's functions: the parameters [W1, b1, W2, b2] it started from, the
    forward arrays (Z1, A1, Z2, A2) and the gradients (dW1, db1, dW2, db2) they gave."""

    arrays: list
    forward: tuple
    grads: tuple


def notebook_history_row(iteration: int, step: NotebookPass, test_pred: np.ndarray, data: Prepared) -> dict:
    """The built-in network's history columns (nnscratch.train.history.history_row) for one hidden layer,
    from the user's pass of this iteration over the training set (labels data.y_train) and its predicted
    test classes test_pred (N_test,)."""
    Z1, A1, _, A2 = step.forward
    y, grads = data.y_train, step.grads
    params = as_params(step.arrays)
    grad_params = {"W": [np.asarray(grads[0]), np.asarray(grads[2])], "b": [np.asarray(grads[1]), np.asarray(grads[3])]}
    row = {
        "iteration": iteration,
        "loss": cross_entropy_of(A2, y),
        "train_acc": dg.accuracy(A2.argmax(axis=0), y),
        "test_acc": dg.accuracy(test_pred, data.y_test),
        "test_classes": int(len(np.unique(test_pred))),
    }
    row |= layer_row(1, A1, 0, params, grad_params, can_die=True)
    row["saturated_l1"] = dg.NAN
    row["rank_l1"] = dg.effective_rank(params["W"][0])
    row["pre_abs_l1"] = float(np.abs(Z1).mean(dtype=np.float64))
    row["grad_norm_out"] = float(np.linalg.norm(grad_params["W"][-1]))
    return row


def evaluating(i: int, iterations: int, every: int) -> bool:
    """As the built-in trainer (nnscratch.train.stack.Stack.evaluating): every `every` iterations, after
    the last, and before the first period at iterations 1, 2, 4, 8, ..."""
    return i % every == 0 or i == iterations or (0 < i < every and i & (i - 1) == 0)


def finite(arrays) -> bool:
    return all(np.isfinite(np.asarray(a)).all() for a in arrays)


def train_notebook(
    cfg: RunConfig | dict,
    data: Prepared,
    nb: Notebook,
    report: Callable[[float], None] | None = None,
    stop_asked: Callable[[], bool] | None = None,
) -> RunResult:
    """Train a run config with the user's functions `nb` on prepared data. `report(fraction done)` about
    every second; `stop_asked()`, polled each iteration, ends the run with KeyboardInterrupt (a user's
    run has no checkpoint: it starts again when its sweep resumes). Errors of the user's code raise
    UserCodeError; divergence (a non-finite A2 or parameter) stops the run and is recorded."""
    cfg = run_config(cfg)  # a record's plain config read as its object
    if cfg.train.batch_size is not None:
        raise UserCodeError("train.batch_size: a network of your own trains full-batch here (batch_size=null)")
    arrays = initial_params(cfg, nb, data.n_inputs, data.n_classes)
    X, y, iterations = data.X_train, data.y_train, cfg.train.iterations
    dt = arrays[0].dtype
    lr = dt.type(cfg.train.lr)
    history, t0, reported = [], time.perf_counter(), time.perf_counter()
    diverged = False
    with threadpool_limits(limits=cfg.train.blas_threads, user_api="blas"), np.errstate(all="ignore"):
        for i in range(iterations + 1):
            fwd = nb.call("forward", *arrays, X)
            grads = nb.call("backward", *fwd, arrays[0], arrays[2], X, y)
            diverged = not (finite(fwd[3]) and finite(arrays))
            if evaluating(i, iterations, cfg.train.eval_every) or diverged:
                test_pred = test_predictions(nb, arrays, data.X_test)
                history.append(notebook_history_row(i, NotebookPass(arrays, fwd, grads), test_pred, data))
            if diverged or i == iterations:
                break
            # kept in the run's dtype: a float64 one-hot in the user's code would otherwise promote them
            arrays = [np.asarray(a).astype(dt, copy=False) for a in nb.call("update", *arrays, *grads, lr)]
            if report and time.perf_counter() - reported >= REPORT_EVERY:
                report((i + 1) / iterations)
                reported = time.perf_counter()
            if stop_asked and stop_asked():
                raise KeyboardInterrupt("stopped: a run of your own network starts again on resume")
    regular = [h for h in history if h["iteration"] % cfg.train.eval_every == 0 or h is history[-1]]
    end = RunEnd(test_pred, diverged, time.perf_counter() - t0)
    metrics = final_metrics(end, data, history, cfg.train.collapse_margin, regular)
    return RunResult(history, metrics | {"live_fraction": 1.0, "network_sha256": nb.sha256})


def test_predictions(nb: Notebook, arrays: list, X_test: np.ndarray) -> np.ndarray:
    """Predicted test classes (N_test,) of the user's network: argmax of its A2."""
    return np.asarray(nb.call("forward", *arrays, X_test)[3]).argmax(axis=0)
