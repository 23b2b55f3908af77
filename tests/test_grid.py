"""config/grid.py: a grid -> its cells -> run specs; planning composes once per set of config-group
choices and gives exactly Hydra's compose per cell."""

import json

import pytest
import yaml

from nnscratch.config import grid
from nnscratch.config.compose import compose_run, hydra_context, run_id
from nnscratch.paths import CONF_DIR
from nnscratch.run import sweep

MANY = {
    "name": "many",
    "axes": {
        "weights": ["uniform", "zeros", "he", "small_normal"],
        "activation": ["relu", "leaky_relu"],
        "optimizer": ["gd", "adam"],
        "train": {"lr": [0.1, "1e-3"], "iterations": [7]},
        "model": {"hidden": [[10], [32, 16]]},
        "data": {"subset": [100, None]},
        "seed": [0, 1],
    },
    "extra": {"other": {"biases": ["normal"], "train": {"blas_threads": [2]}, "seed": [4]}},
}


def compose_cells(cells: list[tuple[list[str], dict]], picked: list[int]) -> list[tuple[str, dict, list[str]]]:
    """Today's planning, one full Hydra compose per picked cell: (run id, config, overrides)."""
    with hydra_context(CONF_DIR):
        out = []
        for i in picked:
            config, _ = compose_run(cells[i][0])
            out.append((run_id(config), config, cells[i][0]))
    return out


def values_of(cells: list[tuple[list[str], dict]]) -> set[tuple[str, str]]:
    """Every (axis, value) the cells set."""
    return {(axis, json.dumps(value)) for _, values in cells for axis, value in values.items()}


@pytest.mark.parametrize("which", ["log_grid", "many"])
def test_planning_gives_the_ids_and_configs_of_a_compose_per_cell(which):
    """A compose takes about a third of a second, so one cell in 7 and the last (an extra's) are composed:
    7 is prime to every axis's length here, so the sample meets every value of every axis."""
    g = yaml.safe_load((CONF_DIR / "sweep" / "log_grid.yaml").read_text()) if which == "log_grid" else MANY
    base = ["data=fashion_mnist", "train.eval_every=5"]
    cells = grid.cells(g, base)
    picked = sorted({*range(0, len(cells), 7), len(cells) - 1})
    assert values_of([cells[i] for i in picked]) == values_of(cells)
    expected = compose_cells(cells, picked)
    _, specs = sweep.plan(g, base)
    position = {s["run_id"]: k for k, s in enumerate(specs)}
    assert len(cells) >= len(specs) == len(position) > 100  # one spec per distinct run
    for rid, config, overrides in expected:
        assert json.dumps(specs[position[rid]]["config"]) == json.dumps(config), overrides  # keys, order, values
    seen = [position[rid] for rid, _, _ in expected]
    assert seen == sorted(seen)  # in the cells' order
