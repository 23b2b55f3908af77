"""Several runs on the same data trained together: their first layers stacked into one matrix.

At hidden 10 a step is bound by reading X, not by arithmetic. Runs that share X (same dataset,
subset and scaling) and the same training schedule can share that read: with every model's W1
stacked row-wise,

    Z1_all = W1_all @ X + b1_all          (sum of hidden widths, N): one large matmul
    dW1_all = dZ1_all @ X.T               one large matmul

and each model's rows are its own (a matrix product computes every output row from its own row of
W1 only), so a model that diverges is frozen without touching its neighbours. The layers above the
first are per model. Results equal the one-at-a-time run up to float32 rounding: BLAS may block a
larger product differently.
"""

from __future__ import annotations

import time

import numpy as np
from threadpoolctl import threadpool_limits

from nnscratch.config import N_CLASSES
from nnscratch.data import Prepared
from nnscratch.network import Params, backward, cross_entropy, forward, log_softmax, one_hot
from nnscratch.train import RunResult, all_finite, build_params, evaluate, final_metrics, train, update

STACK_KEYS = ("lr", "iterations", "eval_every", "blas_threads", "collapse_margin")


def stackable(config: dict) -> bool:
    """Full-batch runs without fault injection can share a stack."""
    return config["train"].get("batch_size") is None and config.get("fault") is None


def schedule_key(config: dict) -> tuple:
    """Runs stack together only when they train on the same schedule."""
    return tuple(config["train"][k] for k in STACK_KEYS) + (config["model"].get("dtype", "float32"),)


def split_params(models: list[Params]) -> tuple[np.ndarray, np.ndarray, list[slice]]:
    """Stack every model's W1 and b1; the models' own W1, b1 become views of their rows."""
    sizes = [p["W"][0].shape[0] for p in models]
    bounds = np.cumsum([0, *sizes])
    rows = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
    W1, b1 = np.vstack([p["W"][0] for p in models]), np.vstack([p["b"][0] for p in models])
    for p, r in zip(models, rows):
        p["W"][0], p["b"][0] = W1[r], b1[r]
    return W1, b1, rows


def upper(params: Params) -> Params:
    """The layers above the first."""
    return {"W": params["W"][1:], "b": params["b"][1:]}


def train_stack(cfgs: list[dict], data: Prepared) -> list[RunResult]:
    """Train runs that share data and schedule together; one RunResult per config, in order."""
    if len(cfgs) == 1:
        return [train(cfgs[0], data)]
    t0 = time.perf_counter()
    tc = cfgs[0]["train"]
    models = [build_params(c) for c in cfgs]
    W1, b1, rows = split_params(models)
    dt = W1.dtype.type
    X, y = data.X_train, data.y_train
    Y = one_hot(y, N_CLASSES, W1.dtype)
    # the stacked (units, N) arrays are allocated once: fresh ones each iteration cost page faults
    Z1, A1, dZ1 = (np.zeros((W1.shape[0], X.shape[1]), W1.dtype) for _ in range(3))
    dW1 = np.empty_like(W1)
    histories: list[list[dict]] = [[] for _ in cfgs]
    done: list[dict | None] = [None] * len(cfgs)  # final metrics once a model stops
    with threadpool_limits(limits=tc["blas_threads"], user_api="blas"), np.errstate(over="ignore", invalid="ignore"):
        for it in range(tc["iterations"] + 1):
            evaluating = it % tc["eval_every"] == 0 or it == tc["iterations"]
            np.matmul(W1, X, out=Z1)
            Z1 += b1
            np.maximum(Z1, 0, out=A1)
            grads, caches = {}, {}
            for m, (params, r) in enumerate(zip(models, rows)):
                if done[m] is None:
                    grads[m], caches[m] = upper_step(params, Z1[r], A1[r], X, y, Y, dZ1[r])
            np.matmul(dZ1, X.T, out=dW1)
            db1 = dZ1.sum(axis=1, keepdims=True)
            for m, (loss, As, log_probs) in caches.items():
                grads[m]["W"].insert(0, dW1[rows[m]])
                grads[m]["b"].insert(0, db1[rows[m]])
                if evaluating:
                    histories[m].append(evaluate(models[m], grads[m], As, log_probs, y, data, it))
                if not np.isfinite(loss) or it == tc["iterations"]:
                    done[m] = stop(models[m], data, histories[m], not np.isfinite(loss), tc, t0)
                    W1[rows[m]], b1[rows[m]], dZ1[rows[m]] = 0, 0, 0  # frozen: its rows no longer move
                else:
                    update(models[m], grads[m], dt(tc["lr"]))
            if all(d is not None for d in done):
                break
    return share_time(cfgs, histories, done, time.perf_counter() - t0)


def upper_step(params: Params, Z1: np.ndarray, A1: np.ndarray, X, y, Y, dZ1_out: np.ndarray):
    """Forward and backward above the first layer for one model; writes its dZ1 rows into dZ1_out.
    Returns (grads of the upper layers, (loss, As, log_probs))."""
    Zs, As = forward(upper(params), A1)
    log_probs = log_softmax(Zs[-1])
    grads = backward(upper(params), Zs, As, log_probs, Y, input_grad=True)
    np.multiply(grads.pop("dX")[0], Z1 > 0, out=dZ1_out)
    return grads, (cross_entropy(log_probs, y), [X, *As], log_probs)


def stop(params: Params, data: Prepared, history: list[dict], diverged: bool, tc: dict, t0: float) -> dict:
    """Final metrics of a model that finished or diverged, taken before its rows are frozen."""
    frozen = {g: [p.copy() for p in ps] for g, ps in params.items()}
    return final_metrics(frozen, data, history, diverged or not all_finite(frozen), tc["collapse_margin"], t0)


def share_time(cfgs: list[dict], histories, finals, seconds: float) -> list[RunResult]:
    """Split the stack's wall time between its runs by their share of the stacked rows."""
    widths = np.array([c["model"]["hidden"][0] for c in cfgs], float)
    out = []
    for history, metrics, w in zip(histories, finals, widths):
        metrics["seconds"] = seconds * w / widths.sum()
        out.append(RunResult(history, metrics))
    return out
