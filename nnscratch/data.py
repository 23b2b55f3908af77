"""Dataset files and arrays: find the IDX files, verify them, read them, preprocess them.

What a dataset is (its files and sums, mirrors, folders, sizes, classes, format) is not here: it is
its conf/data/<name>.yaml, read by nnscratch.datasets, which calls these readers.

The IDX format (LeCun et al.) is a big-endian header followed by raw uint8 data:

    images: magic 0x00000803, count, rows, cols, then count*rows*cols pixels
    labels: magic 0x00000801, count, then count labels

Arrays come back in the learning log's layout, one column per sample:

    X: (n_inputs, N) float32    y: (N,) int64          (MNIST: n_inputs = 28 * 28 = 784)

Where the files come from, in order: a directory given in config; ``$NNSCRATCH_DATA_DIR/<name>/``;
the per-user cache; the dataset's system folders (Fashion-MNIST: Debian's ``dataset-fashion-mnist``);
else a download from its mirrors into the cache. Each file is checked against the SHA-256 of its
*decompressed* bytes, which is the same for every mirror.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPLITS = ("train_images", "train_labels", "test_images", "test_labels")
SCALINGS = ("none", "unit", "standardize")
SUBSET_METHODS = ("first", "stratified")
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049


class DataError(Exception):
    """A dataset file is missing, corrupt or inconsistent; the message says which and what to do."""


Files = dict[str, tuple[str, str | None]]  # {split: (file name, SHA-256 of its decompressed bytes)}


@dataclass(frozen=True)
class Dataset:
    """Raw dataset as stored: X_* (n_inputs, N) uint8, y_* (N,) int64 in range(len(classes));
    `max_value`: the largest value a pixel can take (what scaling=unit divides by)."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    max_value: int

    @property
    def n_inputs(self) -> int:
        return self.X_train.shape[0]


# ---------------------------------------------------------------- reading and checking one file


def read_bytes(path: Path) -> bytes:
    """The decompressed content of an IDX file, `.gz` or raw."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: unreadable or corrupt gzip ({err}). Delete it and fetch it again.") from err


def check_sha256(path: Path, content: bytes, expected: str | None) -> None:
    """Raise DataError when the decompressed bytes do not hash to `expected`."""
    if expected is None:
        return
    actual = hashlib.sha256(content).hexdigest()
    if actual != expected:
        raise DataError(
            f"{path}: checksum mismatch (SHA-256 of decompressed bytes is {actual}, expected {expected}). "
            "The file is corrupt or not the canonical release: delete it and fetch it again."
        )


def parse_idx(path: Path, content: bytes, magic: int) -> np.ndarray:
    """Parse IDX bytes into (count, rows*cols) or (count,) uint8, checking header and length."""
    if len(content) < 8:
        raise DataError(f"{path}: truncated IDX file ({len(content)} bytes, no complete header).")
    found, count = (int.from_bytes(content[i : i + 4], "big") for i in (0, 4))
    if found != magic:
        raise DataError(
            f"{path}: wrong magic number {found:#010x}, expected {magic:#010x} "
            f"({'images' if magic == IMAGE_MAGIC else 'labels'} file)."
        )
    header = 16 if magic == IMAGE_MAGIC else 8
    if len(content) < header:
        raise DataError(f"{path}: truncated IDX header.")
    shape = (count,)
    if magic == IMAGE_MAGIC:
        rows, cols = (int.from_bytes(content[i : i + 4], "big") for i in (8, 12))
        shape = (count, rows * cols)
    expected_len = header + int(np.prod(shape))
    if len(content) != expected_len:
        raise DataError(f"{path}: truncated or padded IDX data ({len(content)} bytes, header says {expected_len}).")
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(shape)


def read_idx(path: Path, magic: int, sha256: str | None) -> np.ndarray:
    """Read, parse and verify one IDX file (header problems are named before a checksum mismatch)."""
    content = read_bytes(path)
    array = parse_idx(path, content, magic)
    check_sha256(path, content, sha256)
    return array


# ---------------------------------------------------------------- where the files are


def cache_dir() -> Path:
    """The per-user cache folder for downloads (e.g. ~/.cache/nnscratch)."""
    # imported here: a worker reading prepared arrays never looks for the files
    import pooch

    return Path(pooch.os_cache("nnscratch"))


DATA_ENV = "NNSCRATCH_DATA_DIR"
# What the user typed, and where, kept beside the absolute paths handed to the processes started
# (Hydra jobs, loky workers, subprocesses): they may run in another working directory.
GIVEN_ENV, LAUNCH_ENV = "NNSCRATCH_DATA_DIR_GIVEN", "NNSCRATCH_LAUNCH_DIR"


def pin_paths() -> None:
    """At the start of a process that was given them: make a relative $NNSCRATCH_DATA_DIR absolute
    (remembering it as given) and record the launch folder that a relative ``data.dir=`` means.

    Called once by every entry point (experiments/__init__.py) and by the test suite; processes they
    start inherit the absolute paths, whatever their own working directory.
    """
    value = os.environ.get(DATA_ENV)
    if value and not Path(value).is_absolute():
        os.environ[GIVEN_ENV] = json.dumps([value, str(Path.cwd())])
        os.environ[DATA_ENV] = str((Path.cwd() / value).resolve())
    os.environ[LAUNCH_ENV] = str(Path.cwd())


def given_data_env() -> str | None:
    """``NNSCRATCH_DATA_DIR=<as typed>, relative to <folder>`` when pin_paths made today's value absolute."""
    value, given = os.environ.get(DATA_ENV), os.environ.get(GIVEN_ENV)
    if not value or not given:
        return None
    typed, launched = json.loads(given)
    return f"{DATA_ENV}={typed}, relative to {launched}" if str((Path(launched) / typed).resolve()) == value else None


def launch_dir() -> Path:
    """Where the command was typed (pin_paths), else this process's working directory."""
    return Path(os.environ.get(LAUNCH_ENV) or Path.cwd())


def resolve_dir(folder: str) -> Path:
    """A folder as the user meant it: relative to where they launched the command."""
    path = Path(folder).expanduser()
    return path if path.is_absolute() else (launch_dir() / path).resolve()


def candidate_dirs(name: str, data_dir: str | None = None, system_dirs: tuple[str, ...] = ()) -> list[Path]:
    """Every folder searched for dataset `name`, in order."""
    dirs = [resolve_dir(data_dir)] if data_dir else []
    if os.environ.get(DATA_ENV):
        dirs.append(resolve_dir(os.environ[DATA_ENV]) / name)
    dirs.append(cache_dir() / name)
    dirs += [Path(d) for d in system_dirs]
    return dirs


def describe_dir(folder: Path, name: str, data_dir: str | None) -> str:
    """A searched folder for an error: as given and as resolved, and whether it exists."""
    given = None
    if data_dir and folder == resolve_dir(data_dir) and not Path(data_dir).is_absolute():
        given = f"data.dir={data_dir}, relative to {launch_dir()}"
    elif os.environ.get(DATA_ENV) and folder == resolve_dir(os.environ[DATA_ENV]) / name:
        given = given_data_env()
    return f"{folder}{f' (from {given})' if given else ''}{'' if folder.is_dir() else ': no such folder'}"


def find_file(folder: Path, filename: str) -> Path | None:
    """`filename.gz` or `filename` in `folder`, whichever exists."""
    for candidate in (folder / f"{filename}.gz", folder / filename):
        if candidate.is_file():
            return candidate
    return None


def locate(name: str, files: Files, data_dir: str | None = None, system_dirs: tuple[str, ...] = ()) -> dict | None:
    """Paths of the four files in the first folder that holds all of them, or None."""
    for folder in candidate_dirs(name, data_dir, system_dirs):
        found = {split: find_file(folder, fname) for split, (fname, _) in files.items()}
        if all(found.values()):
            return found
    return None


def download(name: str, files: Files, mirrors: list[str], data_dir: str | None = None, system_dirs=()) -> dict:
    """Download the four files into the cache from the first mirror that serves a verified copy.

    pooch writes each file atomically (temporary file, then rename) and shows a progress bar.
    """
    # imported here: only a download needs it (and tqdm, for its bar)
    import pooch

    target = cache_dir() / name
    paths, problems = {}, []
    for split, (fname, sha) in files.items():
        for mirror in mirrors:
            try:
                path = Path(
                    pooch.retrieve(
                        mirror + fname + ".gz", known_hash=None, fname=fname + ".gz", path=target, progressbar=True
                    )
                )
            except Exception as err:  # network errors come in many types; any means "next mirror"
                problems.append(f"{mirror}{fname}.gz: {err}")
                continue
            try:
                check_sha256(path, read_bytes(path), sha)
            except DataError as err:
                path.unlink(missing_ok=True)
                problems.append(str(err))
                continue
            paths[split] = path
            break
        else:
            raise missing_error(name, files, problems, data_dir, system_dirs)
    return paths


def missing_error(
    name: str, files: Files, problems: list[str], data_dir: str | None = None, system_dirs=()
) -> DataError:
    """One error naming the files, every place looked, what went wrong and how to fix it."""
    names = ", ".join(f"{f}[.gz]" for f, _ in files.values())
    looked = "\n".join(f"  - {describe_dir(d, name, data_dir)}" for d in candidate_dirs(name, data_dir, system_dirs))
    tried = "\n".join(f"  - {p}" for p in problems[-8:])
    return DataError(
        f"dataset '{name}' not found: need {names}.\nLooked in:\n{looked}\nDownload failed:\n{tried}\n"
        f"Fix: put the four files in one of those folders, or set NNSCRATCH_DATA_DIR to a folder holding "
        f"'{name}/' (e.g. NNSCRATCH_DATA_DIR=../shared/data), or set data.dir=<folder>."
    )


def load_idx(
    name: str,
    files: Files,
    data_dir: str | None = None,
    mirrors: list[str] = (),
    system_dirs: tuple[str, ...] = (),
    allow_download: bool = True,
) -> dict[str, np.ndarray]:
    """The four IDX files of dataset `name`, found (or downloaded) and verified against `files`' sums:
    {"train_images": (N, rows*cols) uint8, "train_labels": (N,) uint8, "test_images", "test_labels"}."""
    paths = locate(name, files, data_dir, system_dirs)
    if paths is None:
        if not allow_download:
            raise missing_error(name, files, ["download disabled"], data_dir, system_dirs)
        paths = download(name, files, list(mirrors), data_dir, system_dirs)
    arrays = {
        split: read_idx(paths[split], IMAGE_MAGIC if split.endswith("images") else LABEL_MAGIC, files[split][1])
        for split in SPLITS
    }
    for part in ("train", "test"):
        n_images, n_labels = len(arrays[f"{part}_images"]), len(arrays[f"{part}_labels"])
        if n_images != n_labels:
            raise DataError(
                f"{paths[f'{part}_images']} has {n_images} images but {paths[f'{part}_labels']} "
                f"has {n_labels} labels: the files do not belong together."
            )
    return arrays


# ---------------------------------------------------------------- preprocessing


def subset_indices(y: np.ndarray, n: int, method: str = "first", seed: int = 0) -> np.ndarray:
    """Indices of `n` training samples: the first n (the log's choice) or a seeded stratified sample."""
    if method == "first":
        return np.arange(n)
    if method != "stratified":
        raise ValueError(f"subset method must be one of {SUBSET_METHODS}, got {method!r}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    quota = np.floor(counts / len(y) * n).astype(int)
    quota[np.argsort(-(counts / len(y) * n - quota))[: n - quota.sum()]] += 1  # largest remainders
    picks = [rng.choice(np.flatnonzero(y == c), q, replace=False) for c, q in zip(classes, quota)]
    return np.sort(np.concatenate(picks))


def scale(
    X: np.ndarray, method: str, reference: np.ndarray | None = None, dtype=np.float32, max_value: int = 255
) -> np.ndarray:
    """Pixels (n_inputs, N) uint8 -> `dtype`: 'none' keeps 0-max_value (MNIST: 0-255), 'unit' divides
    by max_value, 'standardize' subtracts the mean and divides by the std of `reference` (the training pixels)."""
    X = X.astype(dtype)
    if method == "none":
        return X
    if method == "unit":
        return X / dtype(max_value)
    if method == "standardize":
        ref = X if reference is None else reference.astype(dtype)
        mean, std = ref.mean(dtype=np.float64), ref.std(dtype=np.float64)
        return (X - dtype(mean)) / dtype(std)
    raise ValueError(f"scaling must be one of {SCALINGS}, got {method!r}")


@dataclass(frozen=True)
class Prepared:
    """Training-ready arrays: X_* (n_inputs, N) float, y_* (N,) int64 in range(n_classes)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def n_inputs(self) -> int:
        return self.X_train.shape[0]


def prepare(
    ds: Dataset,
    subset: int | None,
    scaling: str,
    subset_method: str = "first",
    subset_seed: int = 0,
    dtype: str = "float32",
) -> Prepared:
    """Subset the training set and scale both sets the same way (statistics from the subset)."""
    idx = subset_indices(ds.y_train, subset or len(ds.y_train), subset_method, subset_seed)
    X_raw = np.ascontiguousarray(ds.X_train[:, idx])
    dt = np.dtype(dtype).type
    X_train = scale(X_raw, scaling, dtype=dt, max_value=ds.max_value)
    X_test = scale(ds.X_test, scaling, reference=X_raw, dtype=dt, max_value=ds.max_value)
    X_train, X_test = np.ascontiguousarray(X_train), np.ascontiguousarray(X_test)
    return Prepared(X_train, ds.y_train[idx], X_test, ds.y_test, len(ds.classes))
