"""One full-batch step and one mini-batch training, nnscratch against its floor and its peers: the
step's five matrix multiplies back to back, PyTorch eager on the CPU, scikit-learn's MLPClassifier
(optional `bench` extra; NaN where a peer is not installed)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks.floors import best_time, step_flops
from nnscratch.data import Prepared, prepare
from nnscratch.train.stack import Stack


def nnscratch_step(stack: Stack) -> Callable[[], None]:
    """One training iteration of the trainer's own loop body (a stack of one), without evaluation."""

    stack.admit()

    def step():
        steps, _ = stack.forward_backward(stack.X, stack.y, stack.Y, detect=stack.skip)
        stack.advance(steps, np.zeros(len(stack.W1), bool), t0=0.0)

    return step


def floor_step(stack: Stack) -> Callable[[], None]:
    """The step's five matmuls on the trainer's own arrays (its X leaves out the inputs 0 on every
    training sample, and W1 their columns): Z1 = W1 @ X, Z2 = W2 @ A1, dW2 = dZ2 @ A1.T,
    dA1 = W2.T @ dZ2, dW1 = dZ1 @ X.T, into preallocated outputs."""
    W1, W2 = stack.models[0].trained["W"][0], stack.models[0].params["W"][1]
    X, Y = stack.X, stack.Y
    A1 = np.maximum(W1 @ X, 0)
    dZ2 = np.ascontiguousarray(Y - 0.1)
    Z1, Z2 = np.empty_like(A1), np.empty_like(dZ2)
    dW1, dW2, dA1 = np.empty_like(W1), np.empty_like(W2), np.empty_like(A1)

    def step():
        np.matmul(W1, X, out=Z1)
        np.matmul(W2, A1, out=Z2)
        np.matmul(dZ2, A1.T, out=dW2)
        np.matmul(W2.T, dZ2, out=dA1)
        np.matmul(dA1, X.T, out=dW1)

    return step


def torch_step(params, X, y, lr) -> Callable[[], None] | None:
    """The same network and step in PyTorch eager with autograd, or None if torch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    W1, W2 = (torch.tensor(w, requires_grad=True) for w in params["W"])
    b1, b2 = (torch.tensor(b, requires_grad=True) for b in params["b"])
    Xt, yt = torch.from_numpy(np.ascontiguousarray(X)), torch.from_numpy(np.asarray(y))

    def step():
        Z2 = W2 @ torch.relu(W1 @ Xt + b1) + b2
        loss = torch.nn.functional.cross_entropy(Z2.T, yt)
        loss.backward()
        with torch.no_grad():
            for p in (W1, b1, W2, b2):
                p -= lr * p.grad
                p.grad = None

    return step


def torch_threads(threads: int) -> None:
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


def reference_config(hidden: int, threads: int) -> dict:
    """The log's reference run with another hidden width and BLAS thread count."""
    from nnscratch.config.compose import compose_run

    return compose_run([f"model.hidden=[{hidden}]", f"train.blas_threads={threads}"])[0]


def step_benchmark(data: dict[int, Prepared], hiddens: list[int], threads: int, repeat: int) -> list[dict]:
    """One row per (hidden, n): seconds per iteration of nnscratch, floor and PyTorch, and ratios."""
    rows = []
    torch_threads(threads)
    for n, prepared in data.items():
        X, y = prepared.X_train, prepared.y_train
        for h in hiddens:
            stack = Stack([reference_config(h, threads)], prepared)
            params = stack.models[0].params  # the same initial weights for the floor and PyTorch
            with threadpool_limits(threads, user_api="blas"):
                floor = best_time(floor_step(stack), repeat)
                step = torch_step(params, X, y, 0.1)  # all inputs, as a PyTorch user would
                ours = best_time(nnscratch_step(stack), repeat)
                theirs = best_time(step, repeat) if step else float("nan")
            rows.append(
                {
                    "hidden": h,
                    "samples": n,
                    "threads": threads,
                    "nnscratch_s": ours,
                    "floor_s": floor,
                    "pytorch_s": theirs,
                    "nnscratch/floor": ours / floor,
                    "nnscratch/pytorch": ours / theirs,
                    "nnscratch_gflops": step_flops(h, n, prepared.n_inputs, prepared.n_classes) / ours / 1e9,
                }
            )
    return rows


MINIBATCH = [
    "model.hidden=[100]",
    "data.subset=null",
    "train.batch_size=100",
    "train.iterations=6000",
    "weights=xavier",
]


def minibatch_benchmark(data: Prepared, repeat: int = 3) -> dict:
    """Mini-batch SGD (batch 100, lr 0.1, 10 epochs of 60,000 images, 1 BLAS thread): nnscratch's
    `python -m experiments.train` + MINIBATCH against scikit-learn's MLPClassifier doing the same
    algorithm (sgd, no momentum, no L2, constant rate), in `repeat` pairs (ours, then theirs, in one
    process): the median wall and CPU seconds of each and the median of the pairs' ratios, so that a
    change in the machine's load between pairs cancels out (CPU time, both on one thread, is the
    steadier on a shared machine). NaN for scikit-learn's figures without it."""
    from nnscratch.config.compose import compose_run
    from nnscratch.train.stack import train

    config = compose_run(MINIBATCH)[0]
    samples = np.ascontiguousarray(data.X_train.T), np.ascontiguousarray(data.X_test.T)  # sklearn's layout, once
    ours, theirs = [], []
    for seed in range(repeat):
        cpu = time.process_time()
        result = train(config, data)
        ours.append((result.metrics["seconds"], time.process_time() - cpu, result.metrics["test_acc"]))
        theirs.append(sklearn_fit(data, samples, seed))
    figures = {"nnscratch_test_acc": ours[0][2], "sklearn_test_acc": theirs[-1][2]}
    for i, kind in enumerate(("s", "cpu_s")):
        figures[f"nnscratch_{kind}"] = statistics.median(o[i] for o in ours)
        figures[f"sklearn_{kind}"] = statistics.median(t[i] for t in theirs)
    figures["nnscratch/sklearn"] = statistics.median(o[0] / t[0] for o, t in zip(ours, theirs))
    figures["nnscratch/sklearn_cpu"] = statistics.median(o[1] / t[1] for o, t in zip(ours, theirs))
    return figures


def sklearn_fit(data: Prepared, samples: tuple[np.ndarray, np.ndarray], seed: int) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and test accuracy of one MLPClassifier fit of MINIBATCH's algorithm on
    `samples` = (X_train, X_test) one row per sample (NaNs without scikit-learn)."""
    import warnings

    try:
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        return float("nan"), float("nan"), float("nan")
    X, X_test = samples
    clf = MLPClassifier(
        hidden_layer_sizes=(100,),
        solver="sgd",
        batch_size=100,
        learning_rate_init=0.1,
        momentum=0.0,
        alpha=0.0,
        max_iter=10,
        shuffle=True,
        random_state=seed,
        tol=0.0,
        n_iter_no_change=100,
    )
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "maximum iterations reached": 10 epochs is the plan
        t, cpu = time.perf_counter(), time.process_time()
        clf.fit(X, data.y_train)
        seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    return seconds, cpu, clf.score(X_test, data.y_test)


if __name__ == "__main__":  # python -m benchmarks.steps: the mini-batch pairs alone
    import sys

    from nnscratch import datasets
    from nnscratch.config.compose import compose_run

    ds = datasets.load(compose_run(MINIBATCH)[0]["data"])
    print(minibatch_benchmark(prepare(ds, None, "unit"), int(sys.argv[1]) if len(sys.argv) > 1 else 3))
