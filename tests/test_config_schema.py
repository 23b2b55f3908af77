"""nnscratch.config.schema on hand-written blocks, without Hydra's compose: the schema classes' defaults,
a wrong type refused, an unknown key refused with "did you mean", a key of another option named as such,
values converted, and a block read as its dataclass."""

from __future__ import annotations

import pytest

from nnscratch.config.schema import (
    Adaptive,
    MlflowSettings,
    Parallel,
    Repair,
    RunSettings,
    SweepSettings,
    as_object,
    nearest,
    schema_of,
    type_name,
    typed,
    typed_block,
)
from nnscratch.run_config import TrainConfig


def test_schema_defaults_are_a_plain_run_and_a_one_run_per_task_sweep():
    assert (RunSettings().seed, RunSettings().fault, RunSettings().repair) == (0, None, None)
    train = TrainConfig()  # the log's full-batch gradient descent at lr 0.1, 500 iterations
    assert (train.lr, train.iterations, train.batch_size, train.skip_dead) == (0.1, 500, None, True)
    assert (Repair().enabled, Repair().max_tries, Repair().iterations) == (False, 4, None)
    parallel = Parallel()
    assert (parallel.backend, parallel.n_jobs, parallel.stack_rows, parallel.stack_tasks) == ("loky", None, 0, 1)
    assert parallel.checkpoint_every == 0 and parallel.tls is None
    sweep = SweepSettings()
    assert (sweep.out_root, sweep.resume, sweep.report) == ("outputs", None, True)
    assert sweep.adaptive == Adaptive(enabled=True, max_seeds=10, claims=None, overlap=True)
    assert SweepSettings().adaptive is not sweep.adaptive  # each its own block, not one shared default
    mlflow = MlflowSettings()
    assert (mlflow.tracking_uri, mlflow.timeout, mlflow.retries) == ("sqlite:///outputs/mlflow.db", 5, 0)


def test_a_block_missing_keys_gets_the_schemas_defaults_and_its_values_converted():
    node, problems = typed_block("train", TrainConfig, {"lr": 1, "iterations": 20})
    assert problems == []
    assert node["lr"] == 1.0 and isinstance(node["lr"], float)  # train.lr=1 is a number
    assert node["iterations"] == 20
    assert node["eval_every"] == TrainConfig().eval_every and node["batch_size"] is None


@pytest.mark.parametrize(
    ("node", "line"),
    [
        ({"lr": "fast"}, "train.lr: must be a number, got 'fast'"),
        ({"iterations": 2.5}, "train.iterations: must be a whole number, got 2.5"),
        ({"batch_size": "all"}, "train.batch_size: must be a whole number or null, got 'all'"),
        ({"skip_dead": "maybe"}, "train.skip_dead: must be true or false, got 'maybe'"),
    ],
)
def test_a_wrong_type_is_refused_naming_the_key_and_the_type(node, line):
    _, problems = typed_block("train", TrainConfig, node)
    assert problems == [line]


def test_an_unknown_key_is_refused_with_the_nearest_allowed_one():
    _, problems = typed_block("train", TrainConfig, {"lrr": 0.5})
    assert len(problems) == 1
    assert problems[0].startswith("train: unknown key 'lrr' (did you mean 'lr'?) (keys: lr, iterations,")
    _, problems = typed_block("parallel", Parallel, {"nothing_like_it": 1})
    assert "did you mean" not in problems[0] and problems[0].startswith("parallel: unknown key 'nothing_like_it'")


def test_a_key_of_another_option_of_the_group_is_named_as_meaning_nothing_here():
    _, problems = typed({"weights": {"scheme": "uniform", "std": 0.1}})
    assert problems == ["weights: 'std' means nothing to scheme 'uniform' (its keys: scheme, per_layer); remove it"]
    assert typed({"weights": {"scheme": "normal", "std": 0.1}})[1] == []


def test_an_unknown_option_kind_and_an_unknown_top_level_key_say_what_was_meant():
    schema, problem = schema_of("optimizer", {"name": "adma"})
    assert schema is None
    assert problem == "optimizer.name: unknown name 'adma' (did you mean 'adam'?) (allowed: gd, momentum, adam)"
    _, problems = typed({"sed": 1}, groups=["train"])
    assert problems == ["unknown key 'sed' (did you mean 'seed'?): not in the schema nor a config group"]
    assert typed({"sed": 1})[1] == []  # groups unknown: a config already typed once is not questioned


def test_a_top_level_scalar_is_typed_by_the_root_schema():
    assert typed({"seed": 1.5})[1] == ["seed: must be a whole number, got 1.5"]
    config, problems = typed({"seed": 3, "train": {"lr": 2}})
    assert problems == [] and config["seed"] == 3 and config["train"]["lr"] == 2.0


def test_nearest_and_type_name_read_as_the_error_lines_use_them():
    assert nearest("lrr", ["lr", "iterations"]) == " (did you mean 'lr'?)"
    assert nearest("xyz", ["lr", "iterations"]) == ""
    assert type_name(int | None) == "a whole number or null"
    assert type_name(list[int]) == "a list of whole numbers"
    assert type_name(bool) == "true or false"


def test_a_typed_block_reads_as_its_dataclass():
    parallel = as_object(Parallel, {"backend": "dask", "n_jobs": 2})
    assert isinstance(parallel, Parallel)
    assert (parallel.backend, parallel.n_jobs, parallel.stack_tasks) == ("dask", 2, 1)
