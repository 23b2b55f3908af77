"""A sweep's training data, prepared once: one set of arrays per distinct dataset, subset, scaling
and dtype (its data key), written as .npy files that every loky worker opens memory-mapped, so N
workers share one copy in the page cache instead of holding N.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from nnscratch import data as datamod
from nnscratch import datasets

log = logging.getLogger(__name__)


DATA_KEYS = ("name", "subset", "subset_method", "subset_seed", "scaling")


def data_key(config: dict) -> str:
    """Runs with the same key train on the same arrays."""
    fields = {k: config["data"].get(k) for k in DATA_KEYS} | {"dtype": config["model"].get("dtype", "float32")}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


def prepare_with(ds: datamod.Dataset, config: dict) -> datamod.Prepared:
    """Subset and scale a loaded dataset as one run config asks."""
    d = config["data"]
    return datamod.prepare(
        ds,
        d["subset"],
        d["scaling"],
        d.get("subset_method", "first"),
        d.get("subset_seed", 0),
        config["model"].get("dtype", "float32"),
    )


def prepare_for(config: dict) -> datamod.Prepared:
    """Load and preprocess the data of one run config."""
    d = config["data"]
    return prepare_with(datasets.load(d), config)


def prepared_by_key(specs: list[dict]) -> Iterator[tuple[str, datamod.Prepared]]:
    """(data key, prepared arrays) of each distinct data key the specs need; raw data is read once."""
    raw, seen = {}, set()
    for spec in specs:
        key, d = data_key(spec["config"]), spec["config"]["data"]
        if key in seen:
            continue
        seen.add(key)
        if d["name"] not in raw:
            raw[d["name"]] = datasets.load(d)
        yield key, prepare_with(raw[d["name"]], spec["config"])


def save_prepared(specs: list[dict], folder: Path) -> dict[str, Path]:
    """Write the prepared arrays each distinct data key needs; {data_key: folder}."""
    out = {}
    for key, prepared in prepared_by_key(specs):
        out[key] = folder / key
        out[key].mkdir(parents=True, exist_ok=True)
        for field in ("X_train", "y_train", "X_test", "y_test", "n_classes"):
            np.save(out[key] / f"{field}.npy", getattr(prepared, field))
    return out


def open_prepared(folder: Path) -> datamod.Prepared:
    """The prepared arrays of one data key, memory-mapped read-only."""
    arrays = (np.load(Path(folder) / f"{f}.npy", mmap_mode="r") for f in ("X_train", "y_train", "X_test", "y_test"))
    return datamod.Prepared(*arrays, int(np.load(Path(folder) / "n_classes.npy")))
