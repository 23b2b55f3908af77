"""config/checks.py: every problem of a run config named at once, before any work."""

import pytest

from nnscratch.config.checks import ConfigError, check, validate
from nnscratch.config.compose import compose_run
from nnscratch.run import sweep


def test_the_reference_config_has_no_problem():
    config, _ = compose_run([])
    assert validate(config) == []
    check(config)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.hidden=[0]"], "model.hidden: must be a list of widths >= 1"),
        (["train.lr=-1"], "train.lr: must be a number > 0, got -1"),
        (["seed=1.5"], "seed: must be a whole number, got 1.5"),
        (["optimizer=adam", "optimizer.eps=0"], "optimizer.eps: must be a number > 0, got 0"),
        (["activation=leaky_relu", "activation.slope=2"], "activation.slope: must be a number in [0, 1), got 2"),
        (["model.dtype=float16"], "model.dtype: unknown 'float16' (allowed: float32, float64)"),
        (["data.subset=70000"], "data.subset"),
    ],
)
def test_each_bad_value_is_named_with_what_is_allowed(overrides, message):
    config, _ = compose_run(overrides)
    problems = validate(config)
    assert any(message in p for p in problems), problems
    with pytest.raises(ConfigError, match="invalid configuration"):
        check(config)


def test_every_problem_is_listed_at_once():
    config, _ = compose_run(["model.hidden=[0]", "train.lr=-1", "seed=1.5"])
    assert len(validate(config)) == 3


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
