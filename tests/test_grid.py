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


def compose_each_cell(g: dict, base: list[str]) -> list[tuple[str, dict, list[str]]]:
    """Today's planning, one full Hydra compose per cell: (run id, config, overrides)."""
    with hydra_context(CONF_DIR):
        out = []
        for overrides, _ in grid.cells(g, base):
            config, _ = compose_run(overrides)
            out.append((run_id(config), config, overrides))
    return out


@pytest.mark.parametrize("which", ["log_grid", "many"])
def test_planning_gives_the_ids_and_configs_of_a_compose_per_cell(which):
    g = yaml.safe_load((CONF_DIR / "sweep" / "log_grid.yaml").read_text()) if which == "log_grid" else MANY
    base = ["data=fashion_mnist", "train.eval_every=5"]
    expected = compose_each_cell(g, base)
    _, specs = sweep.plan(g, base)
    by_id = {s["run_id"]: s for s in specs}
    assert len(by_id) == len({rid for rid, _, _ in expected}) > 100
    for rid, config, overrides in expected:
        assert json.dumps(by_id[rid]["config"]) == json.dumps(config), overrides  # same keys, order and values
    assert [s["run_id"] for s in specs] == list(dict.fromkeys(rid for rid, _, _ in expected))
