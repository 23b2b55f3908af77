"""A run's config as its object (nnscratch.run_config): each block the dataclass of its option, read back
to the same plain config, so that records and run ids do not change."""

import pytest

from nnscratch.config.compose import compose_run, run_id
from nnscratch.config.schema import typed
from nnscratch.run_config import (
    AdamConfig,
    InitConfig,
    LeakyReluConfig,
    NetworkFunctions,
    NormalInitConfig,
    NotebookNetwork,
    RunConfig,
    plain_config,
    run_config,
)


def typed_run(overrides: list[str]) -> dict:
    """A run's plain config as a run spec holds it: composed, then typed by the schemas."""
    config, problems = typed(compose_run(overrides)[0])
    assert not problems
    return config


OPTIONS = [
    [],
    ["weights=normal", "biases=normal", "optimizer=adam", "activation=leaky_relu"],
    ["network=notebook", "train.lr=0.5", "seed=3"],
    ["weights.per_layer=[zeros,normal]"],
]


@pytest.mark.parametrize("overrides", OPTIONS)
def test_the_object_reads_back_to_the_same_config_and_run_id(overrides):
    config = typed_run(overrides)
    cfg = run_config(config)
    assert plain_config(cfg) == config
    assert run_id(plain_config(cfg)) == run_id(config)


def test_each_block_is_the_dataclass_of_its_option():
    config = typed_run(["weights=normal", "optimizer=adam", "activation=leaky_relu", "network=notebook"])
    cfg = run_config(config)
    assert isinstance(cfg.weights, NormalInitConfig) and cfg.weights.std == config["weights"]["std"]
    assert type(cfg.biases) is InitConfig and not hasattr(cfg.biases, "std")
    assert isinstance(cfg.optimizer, AdamConfig) and cfg.optimizer.beta2 == 0.999
    assert isinstance(cfg.activation, LeakyReluConfig) and cfg.activation.slope == 0.01
    assert isinstance(cfg.network, NotebookNetwork) and isinstance(cfg.network.functions, NetworkFunctions)
    assert cfg.train.lr == 0.1 and cfg.model.hidden == [10] and cfg.data.subset == 5000


def test_a_normal_layer_of_per_layer_makes_the_block_read_its_std():
    cfg = run_config(typed_run(["weights.per_layer=[zeros,normal]"]))
    assert isinstance(cfg.weights, NormalInitConfig)


def test_the_reference_run_id_is_unchanged():
    """The log's reference run (python -m experiments.train) keeps the id its records have had."""
    assert run_id(plain_config(run_config(typed_run([])))) == "1acf20133bfe"


def test_a_group_without_a_schema_travels_as_it_is():
    config = typed_run([]) | {"colour": {"name": "red"}}
    cfg = run_config(config)
    assert cfg.groups == {"colour": {"name": "red"}} and plain_config(cfg) == config


def test_an_object_is_taken_as_it_is():
    cfg = run_config(typed_run([]))
    assert run_config(cfg) is cfg and isinstance(cfg, RunConfig)


def test_a_key_its_option_lacks_is_refused_by_name():
    """A config made by hand (a typed one has none): `std` means nothing to uniform weights."""
    config = typed_run([])
    with pytest.raises(ValueError, match=r"InitConfig: unknown key\(s\) std"):
        run_config(config | {"weights": config["weights"] | {"std": 0.1}})
