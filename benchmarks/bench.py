"""How fast the trainer and the sweep are, against what the hardware allows: the benchmark.

Step and mini-batch (benchmarks.steps): one full-batch iteration against its floor and PyTorch,
mini-batch SGD against scikit-learn. Grid (here): the default grid, one seed, with one worker and
with all cores, stacked or not, skipping dead units or not, against the floors of
benchmarks.floors (FLOPs at the measured peak SGEMM; the roofline of the stacked passes). Then
the summary. Ratios are taken within one run, on one machine.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from benchmarks.floors import data_sizes, grid_flops, memory_bandwidth, peak_sgemm, product_speed, roofline_floor
from benchmarks.steps import MINIBATCH, minibatch_benchmark, step_benchmark
from nnscratch import datasets
from nnscratch.data import prepare
from nnscratch.environment import environment
from nnscratch.run.plan import tasks
from nnscratch.run.progress import Progress


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
        sweep_dir, counts = sweep.run(sweep.SweepRequest(grid, overrides, out / name), parallel, progress=False)
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
        "## Mini-batch SGD against scikit-learn (same algorithm, 1 thread, 3 pairs in one process: medians)",
        "",
        f"`python -m experiments.train {' '.join(MINIBATCH)}`: {minibatch['nnscratch_s']:.2f} s "
        f"(test {minibatch['nnscratch_test_acc']:.4f}); scikit-learn MLPClassifier: {minibatch['sklearn_s']:.2f} s "
        f"(test {minibatch['sklearn_test_acc']:.4f}); the pairs' median ratio {minibatch['nnscratch/sklearn']:.2f}, "
        f"{minibatch.get('nnscratch/sklearn_cpu', float('nan')):.2f} in CPU time (the steadier under load).",
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
