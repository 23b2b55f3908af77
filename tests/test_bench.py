"""The benchmark's pieces at toy size (the benchmark itself is not a test: its figures are timings)."""

import math

import numpy as np
import pytest
import yaml

from benchmarks import bench, floors, steps
from nnscratch.data import prepare
from nnscratch.paths import CONF_DIR
from nnscratch.run import prepared, sweep
from nnscratch.train import Stack


def test_floor_computes_the_same_five_products_as_the_trainer(mnist):
    data = prepare(mnist, 300, "unit")
    rows = steps.step_benchmark({300: data}, [10], threads=1, repeat=1)
    assert rows[0]["nnscratch_s"] > 0 and rows[0]["floor_s"] > 0
    assert math.isnan(rows[0]["pytorch_s"]) or rows[0]["pytorch_s"] > 0
    assert floors.step_flops(10, 300, 784, 10) == 2 * 300 * (2 * 784 * 10 + 3 * 10 * 10)
    assert floors.step_flops(10, 300, inputs=700, classes=10) == 2 * 300 * (2 * 700 * 10 + 3 * 10 * 10)
    stack = Stack([steps.reference_config(10, 1)], data)
    before = stack.models[0].trained["W"][0].copy()
    steps.nnscratch_step(stack)()
    assert not np.array_equal(before, stack.models[0].trained["W"][0])  # the timed step really trains


def test_shrunk_grid_keeps_every_product_with_one_seed():
    grid = yaml.safe_load((CONF_DIR / "sweep" / "log_grid.yaml").read_text())
    small = bench.shrink_grid(grid, 7)
    assert small["axes"]["seed"] == [0] and small["axes"]["train"]["iterations"] == [7]
    assert small["extra"]["long_reference"]["train"]["iterations"] == [7]
    assert grid["axes"]["seed"] == [0, 1, 2]  # the original is untouched


def test_eta_accuracy_compares_each_estimate_with_the_time_actually_left():
    import pandas as pd

    old = pd.DataFrame({"elapsed_s": [0, 50, 100], "eta_s": [1, 1, 0], "session": "a"})  # an earlier session
    trail = pd.DataFrame({"elapsed_s": [0, 30, 60, 90, 120], "eta_s": [600, 180, 30, 60, 0], "session": "b"})
    worst = bench.eta_accuracy(pd.concat([old, trail]), after_s=60)
    assert worst["samples"] == 2 and worst["worst_factor"] == 2.0  # at 60 s: 30 s promised, 60 s left
    assert (worst["at_s"], worst["left_s"]) == (60, 60)
    assert bench.eta_accuracy(trail, after_s=0)["worst_factor"] == 5.0  # 600 s promised at the start, 120 s left
    assert bench.eta_accuracy(trail, after_s=200)["samples"] == 0
    last = pd.DataFrame({"elapsed_s": [0, 60, 119, 120], "eta_s": [120, 60, 3, 0], "session": "c"})
    assert bench.eta_accuracy(last, after_s=0)["worst_factor"] == 1.0  # 3 s promised, 1 s left: too close to tell
    assert bench.eta_accuracy(last, after_s=0, min_left_s=0)["worst_factor"] == 3.0


def test_product_speed_times_the_first_layer_product_by_rows():
    rows = floors.product_speed([2, 8], 784, samples=500, repeat=1)
    assert [r["rows"] for r in rows] == [2, 8] and all(r["ms"] > 0 for r in rows)
    for r in rows:  # the rate is the product's FLOPs (rows x 784 x samples, twice) over its time
        assert r["gflops"] == pytest.approx(2 * r["rows"] * 784 * 500 / (r["ms"] / 1e3) / 1e9)


def test_live_floor_over_the_inputs_used_counts_only_pixels_lit_on_some_training_image():
    grid = {"name": "g", "axes": {"data": {"subset": [300, 1000]}, "train": {"iterations": [5]}}}
    _, specs = sweep.plan(grid, [])
    sizes = floors.data_sizes(specs)
    used = floors.inputs_used(specs)
    assert len(used) == 2 and all(500 < n < 784 for n in used.values())
    assert all(s["inputs"] == 784 and s["classes"] == 10 for s in sizes.values())
    assert used[prepared.data_key(specs[0]["config"])] < used[prepared.data_key(specs[1]["config"])]  # more images
    live = {s["run_id"]: 0.5 for s in specs}
    expected = sum(
        floors.step_flops(10, s["config"]["data"]["subset"], used[prepared.data_key(s["config"])], 10) * 5 * 0.5
        for s in specs
    )
    assert floors.grid_flops(specs, sizes, live, over_used=True) == int(expected)
    dense = sum(floors.step_flops(10, n, 784, 10) * 5 * 0.5 for n in (300, 1000))
    assert floors.grid_flops(specs, sizes, live) == int(dense)


def test_the_roofline_floor_is_the_larger_of_arithmetic_and_reading_x_per_pass():
    grid = {"name": "g", "axes": {"data": {"subset": [1000]}, "train": {"iterations": [10]}, "seed": [0, 1]}}
    _, specs = sweep.plan(grid, [])
    task = [specs]  # one task of two 10-unit runs, stacked
    inputs = {prepared.data_key(specs[0]["config"]): {"inputs": 784, "used": 700, "classes": 10}}
    live = {s["run_id"]: 1.0 for s in specs}
    n, rows = 1000, 20  # both runs' 20 live rows fit one pass: 10 passes, one per iteration
    flops, nbytes = 2 * n * (2 * 700 * rows + 3 * rows * 10), 4 * n * (2 * 700 + 3 * rows)
    assert floors.roofline_floor(task, live, inputs, 1e9, 1e15, 256) == pytest.approx(10 * flops / 1e9)  # compute-bound
    assert floors.roofline_floor(task, live, inputs, 1e15, 1e9, 256) == pytest.approx(10 * nbytes / 1e9)  # memory-bound
    dead = {s["run_id"]: 0.1 for s in specs}  # 2 live rows a pass: reading X dominates at a realistic ratio
    assert floors.roofline_floor(task, dead, inputs, 100e9, 10e9, 256) == pytest.approx(10 * 4 * n * (1400 + 6) / 10e9)
    thin = floors.roofline_floor(task, live, inputs, 1e9, 1e15, 5)  # 5 rows a pass: 40 passes, same FLOPs
    assert thin == pytest.approx(10 * flops / 1e9)
    # ... but each of the 40 passes reads X twice: four times the bytes of X
    assert floors.roofline_floor(task, live, inputs, 1e15, 1e9, 5) == pytest.approx(40 * 4 * n * (1400 + 15) / 1e9)
    assert floors.memory_bandwidth(megabytes=8, repeat=2) > 1e8  # bytes/s: a read of 8 MB takes well under 80 ms


def test_the_summary_states_each_ratio_from_the_figures_it_was_given():
    def row(workers, rows, skip, wall):
        return {"workers": workers, "stack_rows": rows, "skip_dead": skip, "wall_s": wall, "peak_pss_mib": 100.0}

    grid = [row(1, 0, True, 40.0), row(2, 0, True, 25.0), row(2, 256, True, 10.0), row(2, 256, False, 30.0)]
    info = {"flops": 4e12, "live_flops": 1e12, "used_flops": 8e11, "inputs": [717], "n_inputs": 784}
    info |= {"peak_1": 5e10, "bandwidth": 1e10, "roofline_s": 8.0, "eta": [{"from_s": 60, "worst": 1.2}]}
    env = {"cpu": "cpu", "cores": 2, "blas": [], "packages": {"numpy": "2"}, "env": {}}
    minibatch = {"nnscratch_s": 2.0, "nnscratch_test_acc": 0.97, "sklearn_s": 4.0, "sklearn_test_acc": 0.96}
    text = bench.summary([{"shape": "s", "s": 1.0}], grid, info, 1e11, env, minibatch | {"nnscratch/sklearn": 0.5}, [])
    assert "Parallel efficiency with 2 workers: 80.0%" in text  # 40 / (2 x 25)
    assert "30.0 s without: 3.00 x faster" in text and "1.00 x its live floor" in text  # live floor 1e12 / 1e11 = 10 s
    assert "the grid takes 1.25 x it (target 1.2 x)" in text  # roofline: 10 s / 8 s
    assert "ratio 0.50" in text and "0.97" in text
