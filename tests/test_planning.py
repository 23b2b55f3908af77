"""Planning a grid: composing once per set of config-group choices gives exactly Hydra's compose per cell."""

import json

import pytest
import yaml

from nnscratch.config import grid
from nnscratch.config.checks import ConfigError
from nnscratch.config.compose import Composer, compose_run, hydra_context, run_id
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


def test_a_value_read_by_an_interpolation_is_composed_in_full(tmp_path):
    conf = tmp_path / "conf"
    for folder in ("train", "sweep"):
        (conf / folder).mkdir(parents=True)
    (conf / "train.yaml").write_text("a: 1\nb: ${a}\nc: {d: 2}\n")
    composer = Composer(conf)
    with hydra_context(conf):
        assert composer(["a=5"])[0] == {"a": 5, "b": 5, "c": {"d": 2}}
        assert composer(["c.d=[3]"])[0] == compose_run(["c.d=[3]"], conf)[0]


def test_plain_overrides_share_what_they_do_not_change():
    composer = Composer()
    one, _ = composer(["seed=1"])
    two, _ = composer(["seed=2", "model.hidden=[64]"])
    assert (one["seed"], two["seed"], two["model"]["hidden"], one["model"]["hidden"]) == (1, 2, [64], [10])
    assert one["data"] is two["data"]  # shared, not copied per run


def test_a_bad_cell_in_a_large_grid_is_named_before_anything_runs(tmp_path):
    g = {
        "name": "large",
        "axes": {"train": {"lr": [0.1, 0.2, -1.0]}, "data": {"subset": [100, 200]}, "seed": list(range(500))},
        "extra": {"typo": {"model": {"hiden": [[10]]}}},
    }
    with pytest.raises(ConfigError) as err:
        sweep.run(g, {}, [], out_root=tmp_path)
    assert "train.lr: must be a number > 0, got -1.0" in str(err.value)
    assert "model.hiden=[10]: Could not override 'model.hiden'" in str(err.value)
    assert not any(tmp_path.iterdir())


def test_a_bad_group_value_gets_hydras_own_error():
    composer = Composer()
    with hydra_context(CONF_DIR), pytest.raises(Exception) as fast:
        composer(["optimizer=[1]"])  # a group: composed, refused by Hydra
    with hydra_context(CONF_DIR), pytest.raises(Exception) as full:
        compose_run(["optimizer=[1]"])
    assert str(fast.value) == str(full.value)
    with hydra_context(CONF_DIR):
        assert composer(["data.mirrors=[a,b]"])[0] == compose_run(["data.mirrors=[a,b]"])[0]
