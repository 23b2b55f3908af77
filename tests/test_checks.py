"""config/schema.py and config/checks.py: given these overrides, expect this one error line, before any
work (the Hydra app example's style: overrides -> composed config -> expected result)."""

import pytest
from hydra.errors import HydraException

from nnscratch.config.checks import ConfigError, check, validate
from nnscratch.config.compose import compose_run, refusal
from nnscratch.config.schema import typed
from nnscratch.run import sweep


def problems_of(overrides: list[str], conf_dir=None) -> list[str]:
    """Every problem of train.yaml composed with `overrides`: its schemas', then the named checks'."""
    try:
        config, choices = compose_run(overrides, *([conf_dir] if conf_dir else []))
    except HydraException as err:  # the option files' schemas: Hydra refuses while composing
        return [refusal(err)]
    config, problems = typed(config, list(choices))
    return problems or validate(config)


def test_the_reference_config_has_no_problem():
    assert problems_of([]) == []
    check(compose_run([])[0])


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        # the mistakes
        (
            ["+train.lrr=0.5"],
            "train: unknown key 'lrr' (did you mean 'lr'?) (keys: lr, iterations, batch_size, "
            "eval_every, collapse_margin, blas_threads, skip_dead)",
        ),
        (["model.hidden=[]"], "model.hidden: must be a list of widths >= 1 such as [10] or [64, 32], got []"),
        (
            ["+weights.std=0.1"],
            "weights: 'std' means nothing to scheme 'uniform' (its keys: scheme, per_layer); remove it",
        ),
        # types, by the schema
        (["train.lr=fast"], "train.lr: must be a number, got 'fast'"),
        (["seed=1.5"], "seed: must be a whole number, got 1.5"),
        (["data.subset=all"], "data.subset: must be a whole number or null, got 'all'"),
        (["train.skip_dead=maybe"], "train.skip_dead: must be true or false, got 'maybe'"),
        (["+sed=1"], "unknown key 'sed' (did you mean 'seed'?): not in the schema nor a config group"),
        (
            ["optimizer.name=adma"],
            "optimizer.name: unknown name 'adma' (did you mean 'adam'?) (allowed: gd, momentum, adam)",
        ),
        (
            ["weights.scheme=unifrom"],
            "weights.scheme: unknown scheme 'unifrom' (did you mean 'uniform'?) "
            "(allowed: zeros, uniform, he, xavier, normal, user)",
        ),
        # ranges and names, by the named checks
        (["model.hidden=[0]"], "model.hidden: must be a list of widths >= 1 such as [10] or [64, 32], got [0]"),
        (["train.lr=-1"], "train.lr: must be > 0, got -1.0"),
        (["optimizer=adam", "optimizer.eps=0"], "optimizer.eps: must be > 0, got 0.0"),
        (["activation=leaky_relu", "activation.slope=2"], "activation.slope: must be >= 0 and < 1, got 2.0"),
        (["model.dtype=float16"], "model.dtype: unknown 'float16' (allowed: float32, float64)"),
        (["weights=w1_zero", "model.hidden=[10,10]"], "weights.per_layer: has 2 entries, the network has 3 layers"),
        # a per_layer entry given as a mapping, typed like its block
        (
            ["weights.per_layer=[{scheme: normal, sd: 0.1},uniform]"],
            "weights.per_layer[0]: unknown key 'sd' (did you mean 'std'?) (keys: scheme, std)",
        ),
        (
            ["weights.per_layer=[{scheme: uniform, std: 0.1},uniform]"],
            "weights.per_layer[0]: 'std' means nothing to scheme 'uniform' (only normal reads it); remove it",
        ),
        (["biases.per_layer=[zeros,{scheme: normal, std: -1}]"], "biases.per_layer[1].std: must be >= 0, got -1"),
        (
            ["data.subset=70000"],
            "data.subset: 70000 is not a sample count from 1 to 60000 (mnist has 60000 training images; null = all)",
        ),
    ],
)
def test_each_mistake_is_one_line_naming_the_key_and_the_fix(overrides, line):
    assert problems_of(overrides) == [line]


def test_a_misspelled_key_in_a_new_option_file_is_refused(conf_copy):
    (conf_copy / "weights" / "tiny.yaml").write_text("scheme: normal\nsd: 0.001\nper_layer: null\n")
    assert problems_of(["weights=tiny"], conf_copy) == [
        "weights: unknown key 'sd' (did you mean 'std'?) (keys: scheme, per_layer, std)"
    ]


def test_values_are_converted_to_their_schemas_types():
    config, _ = typed(compose_run(["train.lr=1", "data.subset=100"])[0])
    assert config["train"]["lr"] == 1.0 and isinstance(config["train"]["lr"], float)
    assert config == typed(config)[0]  # typing twice changes nothing


def test_every_problem_is_listed_at_once():
    config, _ = compose_run(["model.hidden=[0]", "train.lr=-1", "fault=boom"])
    assert len(validate(config)) == 3
    with pytest.raises(ConfigError) as err:
        check(config)
    assert len(str(err.value).splitlines()) == 3


def test_a_bad_cell_in_a_large_grid_is_named_before_anything_runs(tmp_path):
    g = {
        "name": "large",
        "axes": {"train": {"lr": [0.1, 0.2, -1.0]}, "data": {"subset": [100, 200]}, "seed": list(range(500))},
        "extra": {"typo": {"model": {"hiden": [[10]]}}},
    }
    with pytest.raises(ConfigError) as err:
        sweep.run(sweep.SweepRequest(g, [], tmp_path), {})
    assert "train.lr: must be > 0, got -1.0" in str(err.value)
    assert "model.hiden=[10]: model: unknown key 'hiden' (did you mean 'hidden'?)" in str(err.value)
    assert not any(tmp_path.iterdir())
