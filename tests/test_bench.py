"""The benchmark's pieces at toy size (the benchmark itself is not a test: its figures are timings)."""

import math

import numpy as np
import yaml

from nnscratch import bench
from nnscratch.compose import CONF_DIR
from nnscratch.data import prepare
from nnscratch.train import Stack


def test_floor_computes_the_same_five_products_as_the_trainer(mnist):
    data = prepare(mnist, 300, "unit")
    rows = bench.step_benchmark({300: data}, [10], threads=1, repeat=1)
    assert rows[0]["nnscratch_s"] > 0 and rows[0]["floor_s"] > 0
    assert math.isnan(rows[0]["pytorch_s"]) or rows[0]["pytorch_s"] > 0
    assert bench.step_flops(10, 300) == 2 * 300 * (2 * 784 * 10 + 3 * 10 * 10)
    stack = Stack([bench.reference_config(10, 1)], data)
    before = stack.models[0].trained["W"][0].copy()
    bench.nnscratch_step(stack)()
    assert not np.array_equal(before, stack.models[0].trained["W"][0])  # the timed step really trains


def test_shrunk_grid_keeps_every_product_with_one_seed():
    grid = yaml.safe_load((CONF_DIR / "sweep" / "log_grid.yaml").read_text())
    small = bench.shrink_grid(grid, 7)
    assert small["axes"]["seed"] == [0] and small["axes"]["train"]["iterations"] == [7]
    assert small["extra"]["long_reference"]["train"]["iterations"] == [7]
    assert grid["axes"]["seed"] == [0, 1, 2]  # the original is untouched
