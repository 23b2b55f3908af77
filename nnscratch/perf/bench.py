"""How fast the trainer and the sweep are, against what the hardware allows.

Step: one full-batch iteration (forward + backward + update) of nnscratch's trainer, against the
floor (the step's five matrix multiplies on the trainer's own arrays, back to back) and the same
step in PyTorch eager on the CPU (optional `bench` extra). Grid: the default grid, one seed, with
one worker and with all cores, against the FLOP floor (the grid's matrix-multiply FLOPs at the
machine's measured peak SGEMM rate). Ratios are taken within one run, on one machine.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from nnscratch import datasets
from nnscratch.data import Prepared, prepare
from nnscratch.datasets import n_train
from nnscratch.environment import environment
from nnscratch.run.plan import tasks
from nnscratch.run.prepared import data_key, prepared_by_key
from nnscratch.run.progress import Progress
from nnscratch.train.skip import used_inputs
from nnscratch.train.stack import Stack


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
    algorithm (sgd, no momentum, no L2, constant rate), median seconds of `repeat` fits each."""
    ours = nnscratch_minibatch(data, repeat)
    theirs = sklearn_minibatch(data, repeat)
    return ours | theirs | {"nnscratch/sklearn": ours["nnscratch_s"] / theirs["sklearn_s"]}


def nnscratch_minibatch(data: Prepared, repeat: int) -> dict:
    """Median seconds and test accuracy of `repeat` runs of `python -m experiments.train` + MINIBATCH."""
    from nnscratch.config.compose import compose_run
    from nnscratch.train.stack import train

    config = compose_run(MINIBATCH)[0]
    ours = [train(config, data) for _ in range(repeat)]
    return {
        "nnscratch_s": statistics.median(r.metrics["seconds"] for r in ours),
        "nnscratch_test_acc": ours[0].metrics["test_acc"],
    }


def sklearn_minibatch(data: Prepared, repeat: int) -> dict:
    """Median seconds and test accuracy of `repeat` MLPClassifier fits of MINIBATCH's algorithm (NaN
    without scikit-learn)."""
    import warnings

    try:
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        return {"sklearn_s": float("nan"), "sklearn_test_acc": float("nan")}
    X, X_test = np.ascontiguousarray(data.X_train.T), np.ascontiguousarray(data.X_test.T)
    times, score = [], float("nan")
    for seed in range(repeat):
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
            t = time.perf_counter()
            clf.fit(X, data.y_train)
            times.append(time.perf_counter() - t)
        score = clf.score(X_test, data.y_test)
    return {"sklearn_s": statistics.median(times), "sklearn_test_acc": score}


class MemorySampler:
    """Peak total PSS (proportional set size: shared pages counted once) of this process and its children."""

    def __init__(self, interval: float = 0.2):
        import psutil

        self.root, self.interval, self.peak = psutil.Process(), interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _total(self) -> int:
        total = 0
        for p in [self.root, *self.root.children(recursive=True)]:
            try:
                total += p.memory_full_info().pss
            except Exception:  # a worker may exit between listing and reading
                pass
        return total

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._total())
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


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


def eta_accuracy(trail: pd.DataFrame, after_s: float, min_left_s: float = Progress.TRAIL_EVERY) -> dict:
    """How far the progress bar's ETA was from the truth in its last session (a sweep's progress.csv):
    at each sample taken `after_s` seconds or more after the start, the larger of ETA / time actually
    left and time left / ETA; the worst of them, when, and the two times then. Samples with less than
    `min_left_s` left (one sampling interval) do not count: 0.8 s promised with 0.4 s left is 2x and
    says nothing."""
    session = trail[trail["session"] == trail["session"].iloc[-1]]
    end = session["elapsed_s"].iloc[-1]
    later = session[(session["elapsed_s"] >= after_s) & (session["elapsed_s"] <= end - min_left_s)]
    left = end - later["elapsed_s"]
    factor = np.maximum(later["eta_s"] / left, left / later["eta_s"])
    if factor.empty:
        return {"from_s": after_s, "samples": 0, "worst_factor": float("nan")}
    at = factor.idxmax()
    return {
        "from_s": after_s,
        "samples": len(later),
        "worst_factor": float(factor[at]),
        "at_s": float(later.loc[at, "elapsed_s"]),
        "eta_s": float(later.loc[at, "eta_s"]),
        "left_s": float(left[at]),
        "wall_s": float(end),
    }


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


def write_outputs(out: Path, tables: dict[str, list[dict]], summary: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        pd.DataFrame(rows).to_csv(out / f"{name}.csv", index=False)
    (out / "summary.md").write_text(summary)
    return out / "summary.md"


def shrink_grid(grid: dict, iterations: int) -> dict:
    """The grid with one seed and `iterations` per run in every product (the ratios do not depend on it)."""
    import copy

    grid = copy.deepcopy(grid)
    for axes in [grid.get("axes") or {}, *(grid.get("extra") or {}).values()]:
        axes["seed"] = [0]
        axes.setdefault("train", {})["iterations"] = [iterations]
    return grid


GRID_VARIANTS = (  # (workers: 1 or all cores, stacking, skipping dead units)
    ("one", False, True),
    ("all", False, True),
    ("all", True, True),
    ("all", True, False),
)


def grid_benchmark(
    grid: dict, iterations: int, out: Path, cores: int, stack_rows: int, stack_tasks: int
) -> tuple[list[dict], dict]:
    """Wall time, throughput and peak memory of the shrunk grid in each of GRID_VARIANTS; the dense
    FLOPs, and the live FLOPs of the stacked run with skipping (units still alive at each iteration)."""
    from nnscratch.run import sweep

    grid = shrink_grid(grid, iterations)
    _, specs = sweep.plan(grid, [])
    rows, live, eta = [], None, []
    for workers, stacked, skip in GRID_VARIANTS:
        parallel = {
            "backend": "loky",
            "n_jobs": 1 if workers == "one" else cores,
            "scheduler": None,
            "stack_rows": stack_rows if stacked else 0,
            "stack_tasks": stack_tasks,
        }
        row, sweep_dir = grid_variant(grid, specs, parallel, skip, out, iterations)
        rows.append(row)
        if stacked and skip:
            live, eta = live_fractions(sweep_dir), eta_of(sweep_dir)
    # skip_dead=true is the default: the planned run ids are those of the skip-on runs
    sizes = data_sizes(specs)
    return rows, {
        "flops": grid_flops(specs, sizes),
        "live_flops": grid_flops(specs, sizes, live),
        "used_flops": grid_flops(specs, sizes, live, over_used=True),
        "inputs": sorted({s["used"] for s in sizes.values()}),
        "n_inputs": max(s["inputs"] for s in sizes.values()),
        "runs": len(specs),
        "eta": eta,
        "tasks": tasks(specs, stack_rows, stack_tasks),  # the stacked run's, as nnscratch.run.plan makes them
        "live": live,
        "sizes": sizes,
    }


def grid_variant(
    grid: dict, specs: list[dict], parallel: dict, skip: bool, out: Path, iterations: int
) -> tuple[dict, Path]:
    """One variant of the grid benchmark: its row (wall time, throughput, peak memory) and its folder."""
    from nnscratch.run import sweep

    n, rows = parallel["n_jobs"], parallel["stack_rows"]
    name = f"grid_{n}w_stack{rows}_skip{'on' if skip else 'off'}"
    with MemorySampler() as mem:
        t = time.perf_counter()
        overrides = [f"train.skip_dead={str(skip).lower()}"]
        sweep_dir, counts = sweep.run(grid, parallel, overrides, out / name, progress=False)
        wall = time.perf_counter() - t
    model_iterations = sum(s["config"]["train"]["iterations"] for s in specs)
    row = {
        "workers": n,
        "stack_rows": rows,
        "skip_dead": skip,
        "runs": len(specs),
        "iterations_per_run": iterations,
        "wall_s": wall,
        "model_iterations_per_s": model_iterations / wall,
        "peak_pss_mib": mem.peak / 2**20,
        "finished": counts["finished"],
    }
    return row, sweep_dir


def live_fractions(sweep_dir: Path) -> dict[str, float]:
    """Each run's share of first-layer unit-iterations still alive, from its results.csv."""
    from nnscratch import results

    table = results.read_results(sweep_dir)
    return dict(zip(table["run_id"], table["live_fraction"]))


def eta_of(sweep_dir: Path) -> list[dict]:
    """The bar's ETA accuracy from 60 s, and from a tenth of the sweep, on, from its progress.csv."""
    trail = pd.read_csv(sweep_dir / "progress.csv")
    return [eta_accuracy(trail, 60.0), eta_accuracy(trail, 0.1 * trail["elapsed_s"].iloc[-1])]


def cores_of(grid: list[dict]) -> int:
    """The most workers any variant of the grid benchmark used."""
    return max(row["workers"] for row in grid)


def summary(
    steps: list[dict], grid: list[dict], info: dict, peak_flops: float, env: dict, minibatch: dict, products: list[dict]
) -> str:
    """The benchmark's figures in Markdown: machine, step ratios, grid efficiency, FLOP floors, skipping."""
    lines = [
        "# nnscratch benchmark",
        "",
        f"Machine: {env['cpu']}, {env['cores']} cores; BLAS: "
        + ", ".join(f"{b['internal_api']} {b['version']} ({b['architecture']})" for b in env["blas"])
        + f"; numpy {env['packages']['numpy']}; OPENBLAS env: {env['env'] or 'none'}.",
        "",
        f"Peak SGEMM (4096² float32, all cores): {peak_flops / 1e9:.0f} GFLOP/s.",
        "",
        "## One full-batch iteration (forward + backward + update), seconds (median)",
        "",
        pd.DataFrame(steps).to_markdown(index=False, floatfmt=".4g"),
        "",
        "## Mini-batch SGD against scikit-learn (same algorithm, 1 thread, median of 3)",
        "",
        f"`python -m experiments.train {' '.join(MINIBATCH)}`: {minibatch['nnscratch_s']:.2f} s "
        f"(test {minibatch['nnscratch_test_acc']:.4f}); scikit-learn MLPClassifier: {minibatch['sklearn_s']:.2f} s "
        f"(test {minibatch['sklearn_test_acc']:.4f}); ratio {minibatch['nnscratch/sklearn']:.2f}.",
        "",
        "## The default grid, one seed",
        "",
        pd.DataFrame(grid).to_markdown(index=False, floatfmt=".4g"),
        "",
        *grid_floor_lines(grid, info, peak_flops),
        "",
        "## The progress bar's ETA against the time actually left (stacked grid, skip on)",
        "",
        "Worst of max(ETA / time left, time left / ETA) over the bar's samples (every 5 s) from the given time on,"
        " until one sample before the end:",
        "",
        pd.DataFrame(info["eta"]).to_markdown(index=False, floatfmt=".3g"),
        "",
        "## The first layer's product by rows (W1 @ X on 60,000 samples, 1 BLAS thread)",
        "",
        "A stack whose units died reads all of X for a few rows: the FLOP floor counts its arithmetic only.",
        "",
        pd.DataFrame(products).to_markdown(index=False, floatfmt=".4g"),
    ]
    return "\n".join(lines) + "\n"


def grid_floor_lines(grid: list[dict], info: dict, peak_flops: float) -> list[str]:
    """The grid's efficiency and its ratios to the dense, live, used-input and roofline floors."""
    one, many, stacked, dense = grid
    efficiency = one["wall_s"] / (many["wall_s"] * many["workers"])
    floor_s, live_s, used_s = (info[k] / peak_flops for k in ("flops", "live_flops", "used_flops"))
    return [
        f"- Parallel efficiency with {many['workers']} workers: {efficiency:.1%} "
        f"(wall with 1 worker / ({many['workers']} x wall with {many['workers']})), one run per worker.",
        f"- Dense FLOP floor: {info['flops'] / 1e12:.2f} TFLOP of matmuls / {peak_flops / 1e9:.0f} GFLOP/s = "
        f"{floor_s:.1f} s. Live FLOP floor (first-layer units still alive at each iteration, from the "
        f"stacked skip-on run): {info['live_flops'] / 1e12:.2f} TFLOP = {live_s:.1f} s "
        f"({info['live_flops'] / info['flops']:.1%} of the dense work).",
        f"- Skipping dead units and inputs: stacked {stacked['wall_s']:.1f} s with, {dense['wall_s']:.1f} s without: "
        f"{dense['wall_s'] / stacked['wall_s']:.2f} x faster. With skipping the grid takes "
        f"{stacked['wall_s'] / live_s:.2f} x its live floor; without, "
        f"{dense['wall_s'] / floor_s:.2f} x its dense floor.",
        f"- The live floor counts all {info['n_inputs']} inputs. The products leave out those 0 on every training "
        f"image ({' or '.join(map(str, info['inputs']))} of {info['n_inputs']} used): over the inputs used the "
        f"live floor is "
        f"{info['used_flops'] / 1e12:.2f} TFLOP = {used_s:.1f} s, and the grid takes "
        f"{stacked['wall_s'] / used_s:.2f} x that.",
        f"- Roofline floor of the stacked run's first-layer products (each pass: the larger of its FLOPs at "
        f"{info['peak_1'] / 1e9:.0f} GFLOP/s and its bytes at {info['bandwidth'] / 1e9:.1f} GB/s, one core's peak "
        f"SGEMM and read bandwidth measured in this run; {cores_of(grid)} cores): {info['roofline_s']:.1f} s; "
        f"the grid takes {stacked['wall_s'] / info['roofline_s']:.2f} x it (target 1.2 x).",
        f"- One run per worker (skip on): {many['wall_s']:.1f} s = {many['wall_s'] / live_s:.2f} x the live floor.",
        f"- Peak memory (PSS, all processes): {one['peak_pss_mib']:.0f} MiB with 1 worker, "
        f"{many['peak_pss_mib']:.0f} MiB with {many['workers']}, {stacked['peak_pss_mib']:.0f} MiB stacked.",
    ]


def run_benchmark(cfg: dict, repo: Path) -> str:
    """The whole benchmark of conf/bench.yaml (a plain dict): every measurement, written to
    <out_root>/<timestamp>/; the summary it prints. DataError if the dataset cannot be loaded."""
    out = Path(cfg["out_root"]) / time.strftime("%Y-%m-%d_%H-%M-%S")
    cores = joblib.cpu_count()
    ds = datasets.load(cfg["data"])
    data = {n: prepare(ds, n, "unit") for n in cfg["samples"]}
    peak = {t: peak_sgemm(t) for t in sorted({1, cores})}
    steps = [row for t in sorted({1, cores}) for row in step_benchmark(data, list(cfg["hiddens"]), t, cfg["repeat"])]
    minibatch = minibatch_benchmark(prepare(ds, None, "unit"))
    products = product_speed(list(cfg["product_rows"]), ds.n_inputs)
    grid, info = grid_benchmark(cfg["sweep"], cfg["grid_iterations"], out, cores, cfg["stack_rows"], cfg["stack_tasks"])
    tables = {
        "steps": steps,
        "grid": grid,
        "minibatch": [minibatch],
        "peak_sgemm": [{"threads": t, "gflops": f / 1e9} for t, f in peak.items()],
        "products": products,
        "eta": info["eta"],
    }
    bandwidth = memory_bandwidth()
    roofline = roofline_floor(info["tasks"], info["live"], info["sizes"], peak[1], bandwidth, cfg["stack_rows"])
    info |= {"bandwidth": bandwidth, "roofline_s": roofline / cores, "peak_1": peak[1]}
    text = summary(steps, grid, info, peak[cores], environment(repo), minibatch, products)
    return write_outputs(out, tables, text)
