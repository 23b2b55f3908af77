"""What the hardware allows: peak SGEMM, memory bandwidth, the FLOPs of a step and of a grid, and
the roofline floor of a stacked grid (per pass, the larger of its FLOPs at peak and its bytes at the
measured bandwidth). The benchmark (benchmarks.bench) states its times against these."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from nnscratch.datasets import n_train
from nnscratch.run.prepared import data_key, prepared_by_key
from nnscratch.train.skip import used_inputs


def best_time(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of `repeat` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def peak_sgemm(threads: int, n: int = 4096, repeat: int = 7) -> float:
    """FLOP/s of a large square float32 matmul with `threads` BLAS threads: the fastest of `repeat`
    (a peak, so the best time; on a shared machine the median drifts with the neighbours' load)."""
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    out = np.empty_like(a)
    with threadpool_limits(threads, user_api="blas"):
        np.matmul(a, a, out=out)
        seconds = []
        for _ in range(repeat):
            t = time.perf_counter()
            np.matmul(a, a, out=out)
            seconds.append(time.perf_counter() - t)
    return 2 * n**3 / min(seconds)


def step_flops(hidden: int, n: int, inputs: int, classes: int) -> int:
    """Matrix-multiply FLOPs of one iteration of inputs -> hidden -> classes on n samples (five matmuls;
    MNIST: 784 -> hidden -> 10), the first layer's two over `inputs` (all, or those used)."""
    return 2 * n * (2 * inputs * hidden + 3 * hidden * classes)


def grid_flops(
    specs: list[dict], sizes: dict[str, dict], live: dict[str, float] | None = None, over_used: bool = False
) -> int:
    """Matrix-multiply FLOPs of every run's training iterations (single-hidden-layer runs) on its data's
    `sizes` (data_sizes): dense, or with `live` ({run_id: live_fraction}) only those of the first-layer
    units still alive, and with `over_used` over the inputs used only."""
    total = 0
    for s in specs:
        c, size = s["config"], sizes[data_key(s["config"])]
        inputs = size["used"] if over_used else size["inputs"]
        dense = step_flops(sum(c["model"]["hidden"]), n_train(c["data"]), inputs, size["classes"])
        total += dense * c["train"]["iterations"] * (live.get(s["run_id"], 1.0) if live is not None else 1.0)
    return int(total)


def data_sizes(specs: list[dict]) -> dict[str, dict]:
    """{data key: {"inputs": the dataset's, "used": how many are nonzero on some training sample (what
    skipping leaves in the products), "classes": the dataset's}}, from the prepared data."""
    sizes = {}
    for key, prepared in prepared_by_key(specs):
        idx = used_inputs(prepared.X_train)
        used = prepared.n_inputs if idx is None else len(idx)
        sizes[key] = {"inputs": prepared.n_inputs, "used": used, "classes": prepared.n_classes}
    return sizes


def inputs_used(specs: list[dict]) -> dict[str, int]:
    """{data key: how many inputs are nonzero on some training sample}: what skipping leaves in the products."""
    return {key: size["used"] for key, size in data_sizes(specs).items()}


def product_speed(rows: list[int], inputs: int, samples: int = 60_000, repeat: int = 5) -> list[dict]:
    """GFLOP/s of the first layer's product W1 @ X (rows x inputs times inputs x samples, float32, 1 BLAS
    thread; MNIST: 784 inputs) by the number of rows: a stack whose units mostly died is bound by reading
    X, not by arithmetic, which a FLOP floor does not see."""
    rng = np.random.default_rng(0)
    X = rng.random((inputs, samples), dtype=np.float32)
    out = []
    with threadpool_limits(1, user_api="blas"):
        for r in rows:
            W, Z = rng.random((r, inputs), dtype=np.float32), np.empty((r, samples), np.float32)
            seconds = best_time(lambda: np.matmul(W, X, out=Z), repeat)  # noqa: B023 (called right here)
            out.append({"rows": r, "ms": 1e3 * seconds, "gflops": 2 * r * inputs * samples / seconds / 1e9})
    return out


def memory_bandwidth(megabytes: int = 188, repeat: int = 5) -> float:
    """Bytes per second one thread reads: X.sum() over a float32 array of `megabytes` (188 MB: the
    60,000 MNIST images), the best of `repeat` (a peak, as peak_sgemm)."""
    X = np.random.default_rng(0).random(megabytes * 2**20 // 4, dtype=np.float32)
    return X.nbytes / best_time(lambda: X.sum(), repeat)


def roofline_floor(
    tasks: list[list[dict]], live: dict[str, float], sizes: dict[str, dict], flops: float, bandwidth: float, rows: int
) -> float:
    """Seconds the grid's first-layer products need at best on one core, summed over its tasks
    (nnscratch.run.plan.tasks): each stacked pass reads X twice (Z1 = W1 @ X, dW1 = dZ1 @ X.T) and
    writes and reads its (live rows, N) arrays three times, and takes the larger of its FLOPs at
    `flops` (FLOP/s) and its bytes at `bandwidth` (bytes/s). A task's live rows are its runs'
    widths x iterations x live_fraction (`live`), in passes of at most `rows` rows and at least one
    per iteration. `sizes`: data_sizes (inputs used, classes)."""
    total = 0.0
    for task in tasks:
        c = task[0]["config"]
        size, n, iterations = sizes[data_key(c)], n_train(c["data"]), c["train"]["iterations"]
        unit_iterations = sum(s["config"]["model"]["hidden"][0] * iterations * live[s["run_id"]] for s in task)
        passes = max(iterations, unit_iterations / rows)
        per_pass = unit_iterations / passes  # live rows of an average pass
        pass_flops = 2 * n * (2 * size["used"] * per_pass + 3 * per_pass * size["classes"])
        pass_bytes = 4 * n * (2 * size["used"] + 3 * per_pass)
        total += passes * max(pass_flops / flops, pass_bytes / bandwidth)
    return total
