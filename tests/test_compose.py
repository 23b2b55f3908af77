"""config/compose.py: Hydra's compose API, wrapped: a run's overrides -> its plain config, its id,
the command that reproduces it."""

import pytest

from nnscratch.config.compose import Composer, command, compose_run, hydra_context, override, run_id
from nnscratch.paths import CONF_DIR


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


def test_a_bad_group_value_gets_hydras_own_error():
    composer = Composer()
    with hydra_context(CONF_DIR), pytest.raises(Exception) as fast:
        composer(["optimizer=[1]"])  # a group: composed, refused by Hydra
    with hydra_context(CONF_DIR), pytest.raises(Exception) as full:
        compose_run(["optimizer=[1]"])
    assert str(fast.value) == str(full.value)
    with hydra_context(CONF_DIR):
        assert composer(["data.mirrors=[a,b]"])[0] == compose_run(["data.mirrors=[a,b]"])[0]


def test_the_run_id_is_what_is_run_not_where_the_data_is_read_from():
    config, _ = compose_run([])
    moved, _ = compose_run(["data.dir=/elsewhere", "data.mirrors=[http://m/]"])
    assert run_id(config) == run_id(moved)
    other, _ = compose_run(["seed=1"])
    assert run_id(other) != run_id(config) and len(run_id(config)) == 12
    logged, _ = compose_run(["logger=mlflow"])
    assert run_id(logged) == run_id(config)  # where to log is not what is run


def test_an_override_is_the_text_hydra_reads_back():
    assert override("model.hidden", [64, 32]) == "model.hidden=[64,32]"
    assert override("data.subset", None) == "data.subset=null"
    assert command(["model.hidden=[64]", "seed=1"]) == "python -m experiments.train 'model.hidden=[64]' seed=1"
    config, _ = compose_run([override("model.hidden", [64, 32]), override("data.subset", None)])
    assert config["model"]["hidden"] == [64, 32] and config["data"]["subset"] is None
