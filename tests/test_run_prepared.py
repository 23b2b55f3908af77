"""nnscratch.run.prepared: one set of arrays per data key, written once, read memory-mapped."""

import copy

import numpy as np
import pytest

from nnscratch.run import prepared


@pytest.fixture(scope="module")
def raw(composed_small_config):
    """MNIST as read from disk, once for the module."""
    return prepared.datasets.load(composed_small_config["data"])


@pytest.fixture
def reads(raw, monkeypatch) -> list[str]:
    """The dataset names read from disk while the test runs (each read served from `raw`)."""
    names = []
    monkeypatch.setattr(prepared.datasets, "load", lambda d: names.append(d["name"]) or raw)
    return names


def test_runs_on_the_same_arrays_share_a_key(small_config):
    other = copy.deepcopy(small_config)
    other["train"]["lr"], other["model"]["hidden"], other["seed"] = 0.5, [64], 3
    assert prepared.data_key(small_config) == prepared.data_key(other)


def test_the_data_or_its_dtype_changes_the_key(small_config):
    key = prepared.data_key(small_config)
    for where, name, value in [
        ("data", "subset", 2000),
        ("data", "scaling", "none"),
        ("data", "subset_method", "random"),
        ("data", "subset_seed", 1),
        ("model", "dtype", "float64"),
    ]:
        other = copy.deepcopy(small_config)
        other[where][name] = value
        assert prepared.data_key(other) != key, name


def test_each_key_is_prepared_once_from_one_read_of_its_dataset(small_config, reads):
    bigger = copy.deepcopy(small_config)
    bigger["data"]["subset"] = 2000
    specs = [{"config": small_config}, {"config": copy.deepcopy(small_config)}, {"config": bigger}]
    out = dict(prepared.prepared_by_key(specs))
    assert reads == ["mnist"]
    assert list(out) == [prepared.data_key(small_config), prepared.data_key(bigger)]
    assert [p.X_train.shape[1] for p in out.values()] == [1000, 2000]


def test_saved_arrays_open_memory_mapped_and_equal(small_config, tmp_path, reads):
    ((key, made),) = prepared.prepared_by_key([{"config": small_config}])
    paths = prepared.save_prepared([{"config": small_config}], tmp_path)
    opened = prepared.open_prepared(paths[key])
    assert isinstance(opened.X_train, np.memmap) and not opened.X_train.flags.writeable
    for field in ("X_train", "y_train", "X_test", "y_test"):
        assert getattr(opened, field).dtype == getattr(made, field).dtype
        np.testing.assert_array_equal(getattr(opened, field), getattr(made, field))
    assert opened.n_classes == made.n_classes == 10
    assert opened.X_train.dtype == np.float32
