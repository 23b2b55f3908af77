"""Shared fixtures: the real datasets (from NNSCRATCH_DATA_DIR), a small composed run config."""

import os
from pathlib import Path

import pytest

from nnscratch import data, datasets
from nnscratch.compose import compose_run

ROOT = Path(__file__).resolve().parent.parent

# The suite runs on the real data; CI points NNSCRATCH_DATA_DIR at ../shared/data. A developer who
# has not set it gets the same folder when it sits beside the checkout.
if not os.environ.get("NNSCRATCH_DATA_DIR") and (ROOT.parent / "shared" / "data").is_dir():
    os.environ["NNSCRATCH_DATA_DIR"] = str(ROOT.parent / "shared" / "data")


@pytest.fixture(scope="session")
def mnist() -> data.Dataset:
    return datasets.load(datasets.data_config("mnist"), allow_download=False)


@pytest.fixture
def small_config() -> dict:
    """The log's reference run, shrunk: 1,000 samples, 100 iterations."""
    config, _ = compose_run(["data.subset=1000", "train.iterations=100", "train.eval_every=20"])
    return config


@pytest.fixture
def long_grid() -> dict:
    """A sweep of one run of a few seconds: its task reports progress several times before it ends."""
    return {
        "name": "long",
        "axes": {"model": {"hidden": [[64]]}, "data": {"subset": [20000]}, "train": {"iterations": [80]}, "seed": [0]},
    }


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Downloads in tests go to a temporary cache, never the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
