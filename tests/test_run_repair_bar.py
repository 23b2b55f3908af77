"""nnscratch.run.repair_bar: the healthy bar read from a diagnoses file, the reference's overrides and
spec, and the judgement of a try against its reference."""

import math
import shutil

import pytest
import yaml

from nnscratch import diagnose
from nnscratch.config.checks import ConfigError
from nnscratch.run.repair_bar import Bar, load_bar, merged, reference_overrides, reference_spec, within


def test_the_shipped_file_gives_one_point_and_the_keys_the_reference_keeps():
    bar = load_bar()
    assert bar.within_pts == 1.0
    assert {"data", "data.subset", "seed"} <= set(bar.same)
    assert bar.points("no such mode") == bar.within_pts


def test_a_modes_own_within_pts_is_its_bar(tmp_path):
    rules = yaml.safe_load(diagnose.DIAGNOSES.read_text())
    rules["healthy_bar"] = {"within_pts": 2.5}
    rules["modes"][0]["within_pts"] = 4
    path = tmp_path / "diagnoses.yaml"
    path.write_text(yaml.safe_dump(rules))
    bar = load_bar(path)
    assert bar.points(rules["modes"][0]["name"]) == 4.0
    assert bar.points(rules["modes"][1]["name"]) == 2.5


def test_a_misspelled_key_of_the_bar_is_refused_by_name(tmp_path):
    path = tmp_path / "diagnoses.yaml"
    shutil.copy(diagnose.DIAGNOSES, path)
    rules = yaml.safe_load(path.read_text())
    rules["healthy_bar"] = {"within_pt": 2}
    path.write_text(yaml.safe_dump(rules))
    with pytest.raises(ConfigError, match="within_pt"):
        load_bar(path)


def test_merged_replaces_an_override_of_the_same_key():
    assert merged(["seed=1", "+data.subset=100"], ["data.subset=200", "train.lr=1"]) == [
        "seed=1",
        "data.subset=200",
        "train.lr=1",
    ]


def test_the_reference_keeps_the_runs_own_data_and_seed_and_the_budgets_iterations():
    bar = Bar()
    runs = ["data.scaling=none", "seed=3", "data.subset=2000", "train.iterations=500", "train.lr=0.01"]
    assert reference_overrides(runs, bar, None) == ["seed=3", "data.subset=2000", "train.iterations=500"]
    assert reference_overrides(runs, bar, 100) == ["seed=3", "data.subset=2000", "train.iterations=100"]


def test_the_reference_spec_is_the_default_config_on_the_runs_seed(small_overrides=("seed=4", "data.subset=300")):
    spec = reference_spec(list(small_overrides), Bar(), 20, [])
    config = spec["config"]
    assert config["seed"] == 4 and config["data"]["subset"] == 300 and config["train"]["iterations"] == 20
    assert config["data"]["scaling"] != "none"


@pytest.mark.parametrize(
    ("test_acc", "reference_acc", "points", "expected"),
    [(0.83, 0.84, 1.0, True), (0.8299, 0.84, 1.0, False), (None, 0.84, 1.0, False), (math.nan, 0.84, 1.0, False)],
)
def test_a_try_is_within_the_bar_when_at_most_its_points_below(test_acc, reference_acc, points, expected):
    assert within(test_acc, reference_acc, points) is expected
