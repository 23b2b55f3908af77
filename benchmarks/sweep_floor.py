"""A finished sweep against its floor: the live FLOPs of its two large products, at this machine's rate.

    python -m benchmarks.sweep_floor <sweep folder> [--by data.subset data.scaling] [--rounds 10 | --gflops 97]

From the sweep's own records (each run's hidden units, live fraction, inputs used, samples,
iterations, and the stack it trained in, rebuilt from the journal's order on each worker), each
run's two large products per pass are

    Z1 = W1 @ X      (live units, inputs used) x (inputs used, N)      2 * live * inputs * N FLOPs
    dW1 = dZ1 @ X.T  (live units, N) x (N, inputs used)                2 * live * inputs * N FLOPs

over its iterations + 1 passes (the last pass evaluates and is computed whole), with live units =
hidden units x live_fraction (units still alive, averaged over the passes). The floor is those FLOPs
on the sweep's cores at this machine's SGEMM rate per core (1 BLAS thread, float32), measured on
the same two products at each stack's own height (its runs' live rows per pass) and at the fattest
stack (`stack_rows`); the sweep's wall time over each floor is what scheduling, small products and
everything else cost. A mini-batch run counts its batch passes only (its evaluations over the whole
training set are left out). The sweep's folder is only read.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from benchmarks.floors import inputs_used
from nnscratch import results
from nnscratch.datasets import n_train
from nnscratch.run.prepared import data_key

Rate = Callable[[int, int, int], float]  # (stack height in rows, inputs, samples) -> FLOP/s on one core


def run_records(sweep_dir: Path) -> pd.DataFrame:
    """One row per recorded run: run_id, worker, written (journal time), stacked_with, hidden (first-layer
    units), samples (per pass: the batch or the training set), passes (iterations done + 1), live_fraction,
    key (data key), the sweep's axes, and config (the run's config, for its data's sizes)."""
    journal = results.read_journal(sweep_dir)
    rows = []
    for folder, entry in journal.items():
        record = results.read_run(results.runs_dir(sweep_dir) / folder)
        spec, metrics = record["run"], record["metrics"]
        c = spec["config"]
        batch = c["train"].get("batch_size")
        rows.append(
            {
                "run_id": spec["run_id"],
                "worker": metrics["worker"],
                "written": entry["written"],
                "stacked_with": int(metrics["stacked_with"]),
                "hidden": int(c["model"]["hidden"][0]),
                "samples": min(batch, n_train(c["data"])) if batch else n_train(c["data"]),
                "passes": int(metrics["iteration"]) + 1,
                "live_fraction": float(metrics["live_fraction"]),
                "key": data_key(c),
                **{k: str(v) for k, v in spec["axes"].items()},
                "config": c,
            }
        )
    return pd.DataFrame(rows)


def stack_ids(records: pd.DataFrame) -> pd.Series:
    """Which stack each run trained in: a worker trains one task at a time, so on each worker, in the
    journal's order, a run that stacked with k runs and the k - 1 after it are one stack. ValueError if
    the order does not fit (a stack's runs with another count or other data)."""
    ids = pd.Series(-1, index=records.index)
    stack = 0
    for _, runs in records.sort_values("written").groupby("worker", sort=True):
        index = list(runs.index)
        while index:
            k = int(records.at[index[0], "stacked_with"])
            members = records.loc[index[:k]]
            if len(members) < k or members["stacked_with"].nunique() > 1 or members["key"].nunique() > 1:
                raise ValueError(f"run {records.at[index[0], 'run_id']}: its {k} stack-mates are not the next runs")
            ids[index[:k]] = stack
            stack, index = stack + 1, index[k:]
    return ids


def with_work(records: pd.DataFrame, inputs: dict[str, int], stack_rows: int | None) -> pd.DataFrame:
    """The records with each run's `flops` (its two large products over all its passes, live units only,
    over its data's `inputs` used: {data key: count}), `stack` and the `height` of its stack: the stack's
    live unit-passes over its passes, at most `stack_rows` rows at a time and at least one pass per
    iteration of its longest run (Stack admits runs while their live rows fit stack_rows; None: no cap)."""
    out = records.copy()
    out["unit_passes"] = out["hidden"] * out["live_fraction"] * out["passes"]
    out["flops"] = 4 * out["unit_passes"] * out["samples"] * out["key"].map(inputs)
    out["stack"] = stack_ids(out)
    by_stack = out.groupby("stack")
    passes = np.maximum(by_stack["passes"].max(), by_stack["unit_passes"].sum() / (stack_rows or np.inf))
    out["height"] = out["stack"].map(by_stack["unit_passes"].sum() / passes)
    return out


def floor_seconds(
    work: pd.DataFrame, inputs: dict[str, int], rate: Rate, cores: int, height: int | None = None
) -> float:
    """Seconds the runs' products take on `cores` cores at `rate` per core, each at its stack's height
    (rounded, at least 1 row) or at `height` for all."""
    seconds = 0.0
    for (key, samples, h), flops in work.groupby(["key", "samples", "height"])["flops"].sum().items():
        rows = height or row_count(h)
        seconds += flops / rate(rows, inputs[key], samples)
    return seconds / cores


def shapes(work: pd.DataFrame, inputs: dict[str, int], height: int | None = None) -> set[tuple[int, int, int]]:
    """The (rows, inputs, samples) of the products floor_seconds asks the rate of."""
    return {
        (height or row_count(h), inputs[key], n) for key, n, h in work[["key", "samples", "height"]].itertuples(False)
    }


def row_count(height: float) -> int:
    return max(1, round(height))


def measured_rates(wanted: set[tuple[int, int, int]], rounds: int) -> dict[tuple[int, int, int], float]:
    """{(rows, inputs, samples): FLOP/s of the two products on one core}, the best of `rounds` rounds that
    time every shape once each (after an untimed call): on a shared machine a neighbour's burst then
    slows one round of every shape, not every repeat of one, and the best is the nearest to idle."""
    rng = np.random.default_rng(0)
    data = {(i, n): rng.random((i, n), dtype=np.float32) for _, i, n in wanted}
    best = dict.fromkeys(wanted, float("inf"))
    with threadpool_limits(1, user_api="blas"):
        for _ in range(rounds):
            for rows, i, n in sorted(wanted):
                best[rows, i, n] = min(best[rows, i, n], two_products_seconds(rows, data[i, n]))
    return {(rows, i, n): 4 * rows * i * n / seconds for (rows, i, n), seconds in best.items()}


def two_products_seconds(rows: int, X: np.ndarray) -> float:
    """Seconds of Z1 = W1 @ X and dW1 = dZ1 @ X.T (W1: (rows, inputs), X: (inputs, samples)), second of two calls."""
    rng = np.random.default_rng(rows)
    W1, dZ1 = rng.random((rows, len(X)), dtype=np.float32), rng.random((rows, X.shape[1]), dtype=np.float32)
    Z1, dW1 = np.empty_like(dZ1), np.empty_like(W1)
    for _ in range(2):
        t = time.perf_counter()
        np.matmul(W1, X, out=Z1)
        np.matmul(dZ1, X.T, out=dW1)
    return time.perf_counter() - t


def work_by_group(work: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Share of the live FLOPs, runs, cells (the axes but the seed) and seeds per cell, by the columns `by`."""
    cell = [c for c in work.columns if c in set(work.attrs.get("axes", [])) and c != results.SEED]
    work = work.assign(cell=work[cell].astype(str).agg("|".join, axis=1) if cell else work["run_id"])
    table = work.groupby(by).agg(tflop=("flops", "sum"), runs=("run_id", "size"), cells=("cell", "nunique"))
    table["share"] = table["tflop"] / table["tflop"].sum()
    table["seeds_per_cell"] = table["runs"] / table["cells"]
    table["tflop"] /= 1e12
    return table.sort_values("share", ascending=False).reset_index()


def sweep_facts(sweep_dir: Path) -> dict:
    """Wall seconds (all sessions), cores (parallel.n_jobs, or the recorded machine's), stack_rows and axes."""
    sweep = results.read_sweep(sweep_dir)
    env = results.read_json(sweep_dir / "environment.json")
    parallel = sweep["parallel"]
    return {
        "wall_s": sum(s["wall_seconds"] for s in sweep.get("sessions", [])),
        "cores": parallel.get("n_jobs") or env["cores"],
        "stack_rows": parallel.get("stack_rows") or None,  # 0 or None: runs alone
        "axes": sweep["axes"],
        "cpu": env.get("cpu"),
    }


def sweep_work(sweep_dir: Path) -> tuple[dict, pd.DataFrame, dict[str, int]]:
    """(sweep_facts, with_work of its records, {data key: inputs used}); the data is loaded for the inputs."""
    facts = sweep_facts(sweep_dir)
    records = run_records(sweep_dir)
    inputs = inputs_used([{"config": c} for c in records["config"]])
    work = with_work(records, inputs, facts["stack_rows"])
    work.attrs["axes"] = facts["axes"]
    return facts, work, inputs


def report(sweep_dir: Path, by: list[str], rounds: int, gflops: float | None = None) -> str:
    """The sweep against its floor, in Markdown, with the rates measured here in `rounds` rounds, or
    `gflops` per core at every height (a rate measured elsewhere, e.g. on an idle machine)."""
    facts, work, inputs = sweep_work(sweep_dir)
    cores, wall = facts["cores"], facts["wall_s"]
    fattest = facts["stack_rows"] or row_count(work["height"].max())
    wanted = shapes(work, inputs) | shapes(work, inputs, fattest)
    rates = dict.fromkeys(wanted, gflops * 1e9) if gflops else measured_rates(wanted, rounds)

    def rate(rows: int, i: int, n: int) -> float:
        return rates[rows, i, n]

    at_heights = floor_seconds(work, inputs, rate, cores)
    fat = floor_seconds(work, inputs, rate, cores, height=fattest)
    measured = pd.DataFrame(
        [{"rows": r, "inputs": i, "samples": n, "gflops": f / 1e9} for (r, i, n), f in sorted(rates.items())]
    )
    source = f"given: {gflops:g} GFLOP/s" if gflops else f"measured here: the best of {rounds} rounds"
    heights = work.groupby("stack").agg(runs=("run_id", "size"), height=("height", "first"), tflop=("flops", "sum"))
    lines = [
        f"# {sweep_dir.name} against its floor",
        "",
        f"Recorded on: {facts['cpu']}, {cores} cores; {len(work)} runs in {len(heights)} stacks "
        f"(stack_rows {facts['stack_rows'] or 'none: runs alone'}); wall {wall:.0f} s over all sessions.",
        "",
        f"- Live FLOPs of the two large products: {work['flops'].sum() / 1e12:.1f} TFLOP.",
        f"- Floor at each stack's own height: {at_heights:.0f} s on {cores} cores; the sweep took "
        f"{wall / at_heights:.2f} x it.",
        f"- Floor at the fattest stack's rate ({fattest} rows): {fat:.0f} s; the sweep took "
        f"{wall / fat:.2f} x it (thin stacks cost {at_heights / fat:.2f} x).",
        f"- Stack heights (live rows per pass, weighted by FLOPs): median "
        f"{weighted_median(heights['height'], heights['tflop']):.0f}, from {heights['height'].min():.0f} "
        f"to {heights['height'].max():.0f}.",
        "",
        "## Work by cell group",
        "",
        work_by_group(work, by).to_markdown(index=False, floatfmt=".3g"),
        "",
        f"## The rate of the two products per core (1 BLAS thread, float32), {source}",
        "",
        measured.to_markdown(index=False, floatfmt=(".0f", ".0f", ".0f", ".4g")),
    ]
    return "\n".join(lines) + "\n"


def weighted_median(values: pd.Series, weights: pd.Series) -> float:
    order = np.argsort(values.to_numpy())
    v, w = values.to_numpy()[order], np.cumsum(weights.to_numpy()[order])
    return float(v[np.searchsorted(w, w[-1] / 2)])


def problem(sweep_dir: Path, by: list[str]) -> str | None:
    """What keeps `sweep_dir` from being measured grouped `by` those axes, as one line, or None."""
    for name in ("sweep.json", "environment.json", "journal", "runs"):
        if not (sweep_dir / name).exists():
            return f"{sweep_dir}: no {name}: give the folder of a finished sweep (outputs/<grid>/<timestamp>)"
    axes = results.read_sweep(sweep_dir)["axes"]
    if unknown := [a for a in by if a not in axes]:
        return f"--by {' '.join(unknown)}: not an axis of this sweep; its axes: {' '.join(axes)}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sweep_floor", description=__doc__.split("\n")[0])
    parser.add_argument("sweep", type=Path, help="a finished sweep's folder")
    parser.add_argument("--by", nargs="+", default=["data.subset", "data.scaling"], help="axes of the cell groups")
    parser.add_argument(
        "--rounds", type=int, default=10, help="rounds timing every product shape once (the best counts)"
    )
    parser.add_argument("--gflops", type=float, help="a per-core rate to use at every height instead of measuring")
    args = parser.parse_args(argv)
    if (why := problem(args.sweep, args.by)) is not None:
        print(why, file=sys.stderr)
        return 2
    print(report(args.sweep, args.by, args.rounds, args.gflops), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
