"""The dataset catalogue: what a dataset is, read from its conf/data/<name>.yaml, checked, and loaded.

A dataset is one YAML file. Beside the run's settings (subset, scaling, ...) it holds a `catalogue:`
block that says what the data is; for an IDX dataset (MNIST's format)

    catalogue:
      format: idx
      n_train: 60000           n_test: 10000
      max_value: 255           # the largest pixel value: data.scaling=unit divides by it
      classes: ["0", ..., "9"]
      files: {train_images: {file: train-images-idx3-ubyte, sha256: <of the decompressed bytes>}, ...}
      mirrors: [<base URL>, ...]
      system_dirs: [<folder>, ...]

and for a dataset that a Python function returns as arrays (scikit-learn's 8 x 8 digits)

    catalogue:
      format: arrays
      loader: sklearn.datasets.load_digits     # called with return_X_y=True: X (samples, inputs), y
      requires: ...                            # what to install when the loader cannot be imported
      n_train, n_test, max_value, classes      # as above
      sha256: {images: <of X as uint8, C order>, labels: <of y as int64>}
      test_split: {seed: 0, sha256: <of the sorted test indices as int64>}   # stratified, n_test samples

The catalogue is not part of a run's identity (nnscratch.config.compose.run_id leaves it out, as it does
data.dir): it says what the data is, which data.name already names. Input size and class count are
read from the loaded data (`Dataset.n_inputs`, `len(classes)`), never assumed.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from nnscratch import data as datamod
from nnscratch.data import SPLITS, DataError, Dataset
from nnscratch.paths import CONF_DIR

SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Catalogue:
    """A dataset's catalogue entry (see the module docstring); `files`: {split: (file, sha256)}."""

    name: str
    format: str
    n_train: int
    n_test: int
    max_value: int
    classes: tuple[str, ...]
    files: dict
    mirrors: tuple[str, ...] = ()
    system_dirs: tuple[str, ...] = ()
    loader: str | None = None
    requires: str | None = None
    sha256: dict | None = None
    test_split: dict | None = None


def catalogue_of(data: dict) -> Catalogue:
    """The Catalogue of a run config's data block (check `problems(data)` first)."""
    c = data["catalogue"]
    files = {split: (f["file"], f["sha256"]) for split, f in (c.get("files") or {}).items()}
    return Catalogue(
        data["name"],
        c["format"],
        c["n_train"],
        c["n_test"],
        c["max_value"],
        tuple(str(k) for k in c["classes"]),
        files,
        tuple(c.get("mirrors") or ()),
        tuple(c.get("system_dirs") or ()),
        c.get("loader"),
        c.get("requires"),
        c.get("sha256"),
        c.get("test_split"),
    )


def n_train(data: dict) -> int:
    """Training samples a run reads: data.subset, or (null) the dataset's whole training set."""
    return data.get("subset") or data["catalogue"]["n_train"]


# ---------------------------------------------------------------- checks, before any work


def is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def is_sha256(value) -> bool:
    return isinstance(value, str) and SHA256.fullmatch(value) is not None


def idx_problems(c: dict) -> list[str]:
    files = c.get("files")
    if not isinstance(files, dict) or set(files) != set(SPLITS):
        return [f"data.catalogue.files: must name the four files {', '.join(SPLITS)}, got {files!r}"]
    problems = [
        f"data.catalogue.files.{split}: needs `file` and a `sha256` of 64 hex digits (of the decompressed bytes; "
        f"e.g. `gunzip -c <file>.gz | sha256sum`), got {f!r}"
        for split, f in files.items()
        if not (isinstance(f, dict) and isinstance(f.get("file"), str) and is_sha256(f.get("sha256")))
    ]
    if not isinstance(c.get("mirrors") or [], list) or not isinstance(c.get("system_dirs") or [], list):
        problems.append("data.catalogue.mirrors and system_dirs: must be lists (or empty)")
    return problems


def arrays_problems(c: dict) -> list[str]:
    loader, problems = c.get("loader"), []
    if not (isinstance(loader, str) and "." in loader):
        return [f"data.catalogue.loader: must be a dotted path (sklearn.datasets.load_digits), got {loader!r}"]
    if importlib.util.find_spec(loader.split(".")[0]) is None:
        needs = c.get("requires") or "its package"
        problems.append(f"data.catalogue.loader: {loader} cannot be imported: install {needs}")
    sums = c.get("sha256") or {}
    if not all(is_sha256(sums.get(k)) for k in ("images", "labels")):
        problems.append(f"data.catalogue.sha256: needs `images` and `labels`, 64 hex digits each, got {sums!r}")
    split = c.get("test_split") or {}
    if not (isinstance(split.get("seed"), int) and is_sha256(split.get("sha256"))):
        problems.append(f"data.catalogue.test_split: needs a whole-number `seed` and a `sha256`, got {split!r}")
    return problems


FORMAT_CHECKS = {"idx": idx_problems, "arrays": arrays_problems}


def problems(data: dict) -> list[str]:
    """Every problem with a data block's catalogue, as 'key: what is wrong' lines."""
    c = data.get("catalogue")
    if not isinstance(c, dict):
        return [
            f"data.catalogue: missing for dataset '{data.get('name')}': its conf/data/<name>.yaml must say what "
            "the dataset is (format, files and sums, sizes, classes; see README 'A new dataset is a YAML file')"
        ]
    if c.get("format") not in FORMAT_CHECKS:
        return [f"data.catalogue.format: unknown '{c.get('format')}' (allowed: {', '.join(FORMAT_CHECKS)})"]
    counts = ("n_train", "n_test", "max_value")
    found = [
        f"data.catalogue.{k}: must be a whole number >= 1, got {c.get(k)!r}" for k in counts if not is_count(c.get(k))
    ]
    classes = c.get("classes")
    if not (isinstance(classes, list) and len(classes) >= 2):
        found.append(f"data.catalogue.classes: must list the class names (at least 2), got {classes!r}")
    return found + FORMAT_CHECKS[c["format"]](c)


# ---------------------------------------------------------------- loading


def idx_dataset(cat: Catalogue, data: dict, allow_download: bool) -> Dataset:
    """An IDX dataset: its four files found (or downloaded from its mirrors) and verified."""
    mirrors = data.get("mirrors") or cat.mirrors
    a = datamod.load_idx(cat.name, cat.files, data.get("dir"), mirrors, cat.system_dirs, allow_download)
    labels = {part: a[f"{part}_labels"].astype(np.int64) for part in ("train", "test")}
    return Dataset(
        cat.name, a["train_images"].T, labels["train"], a["test_images"].T, labels["test"], cat.classes, cat.max_value
    )


def call_loader(cat: Catalogue) -> tuple[np.ndarray, np.ndarray]:
    """The arrays the catalogue's loader returns: X (samples, inputs) uint8, y (samples,) int64."""
    module, _, function = cat.loader.rpartition(".")
    try:
        X, y = getattr(importlib.import_module(module), function)(return_X_y=True)
    except ImportError as err:
        raise DataError(f"dataset '{cat.name}': {cat.loader} needs {cat.requires or 'its package'} ({err}).") from err
    images = np.asarray(X).astype(np.uint8)
    if not np.array_equal(images, X):
        raise DataError(f"dataset '{cat.name}': {cat.loader} returned values that are not whole numbers 0-255.")
    return np.ascontiguousarray(images), np.asarray(y).astype(np.int64)


def arrays_dataset(cat: Catalogue, data: dict, allow_download: bool) -> Dataset:
    """An arrays dataset: the loader's arrays, verified, split by the catalogue's fixed stratified split."""
    images, labels = call_loader(cat)
    where = Path(f"{cat.name}: {cat.loader}()")
    datamod.check_sha256(where / "images", images.tobytes(), cat.sha256["images"])
    datamod.check_sha256(where / "labels", labels.tobytes(), cat.sha256["labels"])
    test = datamod.subset_indices(labels, cat.n_test, "stratified", cat.test_split["seed"])
    datamod.check_sha256(where / "test_split", test.astype(np.int64).tobytes(), cat.test_split["sha256"])
    train = np.setdiff1d(np.arange(len(labels)), test)
    return Dataset(cat.name, images[train].T, labels[train], images[test].T, labels[test], cat.classes, cat.max_value)


READERS = {"idx": idx_dataset, "arrays": arrays_dataset}


def check_against(ds: Dataset, cat: Catalogue) -> Dataset:
    """Raise DataError when the loaded data does not match its catalogue's sizes and classes."""
    where = f"dataset '{cat.name}' (conf/data/{cat.name}.yaml)"
    for part, expected in (("train", cat.n_train), ("test", cat.n_test)):
        found = len(getattr(ds, f"y_{part}"))
        if found != expected:
            raise DataError(f"{where}: the data holds {found} {part} samples, its catalogue says n_{part}: {expected}.")
    if ds.X_train.shape[0] != ds.X_test.shape[0]:
        raise DataError(f"{where}: train samples have {ds.X_train.shape[0]} inputs, test samples {ds.X_test.shape[0]}.")
    top = int(max(ds.y_train.max(), ds.y_test.max()))
    if top >= len(cat.classes):
        raise DataError(f"{where}: label {top} found, but the catalogue lists {len(cat.classes)} classes.")
    if int(max(ds.X_train.max(), ds.X_test.max())) > cat.max_value:
        raise DataError(f"{where}: pixel values exceed the catalogue's max_value {cat.max_value}.")
    return ds


def load(data: dict, allow_download: bool = True) -> Dataset:
    """The raw dataset a run config's data block names, verified against its catalogue."""
    cat = catalogue_of(data)
    return check_against(READERS[cat.format](cat, data, allow_download), cat)


def data_config(name: str, conf_dir: Path = CONF_DIR) -> dict:
    """conf/data/<name>.yaml as a plain dict, for use without Hydra (tests, notebooks)."""
    path = Path(conf_dir) / "data" / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (Path(conf_dir) / "data").glob("*.yaml"))
        raise DataError(f"unknown dataset '{name}': no {path} (known: {', '.join(known)}).")
    data = yaml.safe_load(path.read_text())
    data.pop("defaults", None)  # its schema, for Hydra (nnscratch/config/schema.py)
    return data
