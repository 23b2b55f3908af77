"""The IDX loader: parsing, every bad-file case, where it looks, and the download path."""

import functools
import gzip
import hashlib
import http.server
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from nnscratch import data, datasets
from nnscratch.data import DataError

SHARED_MNIST = Path(data.candidate_dirs("mnist")[0])


def idx_images(images: np.ndarray) -> bytes:
    n, rows, cols = images.shape
    header = b"".join(x.to_bytes(4, "big") for x in (data.IMAGE_MAGIC, n, rows, cols))
    return header + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray) -> bytes:
    return b"".join(x.to_bytes(4, "big") for x in (data.LABEL_MAGIC, len(labels))) + labels.astype(np.uint8).tobytes()


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A 'tiny' dataset of 6 train / 4 test 28x28 images written by the test, registered with its hashes."""
    rng = np.random.default_rng(0)
    contents = {
        "train_images": idx_images(rng.integers(0, 256, (6, 28, 28))),
        "train_labels": idx_labels(np.array([0, 1, 2, 0, 1, 2])),
        "test_images": idx_images(rng.integers(0, 256, (4, 28, 28))),
        "test_labels": idx_labels(np.array([2, 1, 0, 1])),
    }
    names = {"train_images": "tr-img", "train_labels": "tr-lab", "test_images": "te-img", "test_labels": "te-lab"}
    folder = tmp_path / "tiny"
    folder.mkdir()
    for split, content in contents.items():
        (folder / names[split]).write_bytes(content)
    return folder, names, contents, tiny_config(folder, names, contents)


def tiny_config(folder: Path, names: dict, contents: dict) -> dict:
    """The data block of a run on the 'tiny' files: its catalogue pins their sums."""
    files = {k: {"file": names[k], "sha256": hashlib.sha256(v).hexdigest()} for k, v in contents.items()}
    catalogue = {"format": "idx", "n_train": 6, "n_test": 4, "max_value": 255, "classes": ["a", "b", "c"]}
    return {"name": "tiny", "dir": str(folder), "catalogue": catalogue | {"files": files}}


def load_mnist(**data_keys) -> data.Dataset:
    return datasets.load(datasets.data_config("mnist") | data_keys)


def test_reads_raw_and_gz_in_the_logs_layout(tiny):
    folder, names, contents, cfg = tiny
    raw = datasets.load(cfg, allow_download=False)
    gz_name = folder / f"{names['train_images']}.gz"
    gz_name.write_bytes(gzip.compress(contents["train_images"]))
    (folder / names["train_images"]).unlink()
    from_gz = datasets.load(cfg, allow_download=False)
    assert raw.X_train.shape == (784, 6) and raw.y_train.shape == (6,) and raw.X_test.shape == (784, 4)
    assert np.array_equal(raw.X_train, from_gz.X_train)
    first = np.frombuffer(contents["train_images"], np.uint8, offset=16)[:784]
    assert np.array_equal(raw.X_train[:, 0], first)  # one column per sample


@pytest.mark.parametrize(
    "damage,message",
    [
        (lambda b: (9999).to_bytes(4, "big") + b[4:], "wrong magic number"),
        (lambda b: b[:-10], "truncated or padded"),
        (lambda b: b[:6], "truncated IDX"),
        (lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:], "checksum mismatch"),
    ],
)
def test_bad_raw_file_names_file_and_problem(tiny, damage, message):
    folder, names, contents, cfg = tiny
    path = folder / names["train_images"]
    path.write_bytes(damage(contents["train_images"]))
    with pytest.raises(DataError, match=message) as err:
        datasets.load(cfg, allow_download=False)
    assert str(path) in str(err.value)


def test_truncated_idx_and_wrong_magic_are_caught_without_checksum(tmp_path):
    path = tmp_path / "x"
    good = idx_images(np.zeros((2, 28, 28)))
    with pytest.raises(DataError, match="truncated or padded"):
        data.parse_idx(path, good[:-5], data.IMAGE_MAGIC)
    with pytest.raises(DataError, match="truncated IDX"):
        data.parse_idx(path, good[:5], data.IMAGE_MAGIC)
    with pytest.raises(DataError, match="wrong magic"):
        data.parse_idx(path, good, data.LABEL_MAGIC)


@pytest.mark.parametrize("damage", [lambda gz: gz[: len(gz) // 2], lambda gz: gz[:20] + b"\x00" * 40 + gz[60:]])
def test_truncated_or_corrupt_gzip_names_file(tiny, damage):
    folder, names, contents, cfg = tiny
    (folder / names["test_labels"]).unlink()
    path = folder / f"{names['test_labels']}.gz"
    path.write_bytes(damage(gzip.compress(contents["test_labels"] * 50)))
    with pytest.raises(DataError, match="corrupt gzip|checksum mismatch") as err:
        datasets.load(cfg, allow_download=False)
    assert str(path) in str(err.value)


def test_image_label_count_mismatch(tiny):
    folder, names, contents, _ = tiny
    labels = idx_labels(np.array([0, 1, 2, 0, 1]))
    (folder / names["train_labels"]).write_bytes(labels)
    cfg = tiny_config(folder, names, contents | {"train_labels": labels})
    with pytest.raises(DataError, match="6 images but .* has 5 labels"):
        datasets.load(cfg, allow_download=False)


def test_missing_files_list_every_place_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSCRATCH_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DataError) as err:
        cfg = datasets.data_config("fashion_mnist") | {"dir": str(tmp_path / "given")}
        datasets.load(cfg | {"mirrors": ["http://127.0.0.1:9/"]})
    text = str(err.value)
    for place in [tmp_path / "given", tmp_path / "nowhere" / "fashion_mnist", "/usr/share/datasets/fashion-mnist"]:
        assert str(place) in text
    assert "train-images-idx3-ubyte" in text and "NNSCRATCH_DATA_DIR" in text


def test_search_order_prefers_config_dir_then_env(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSCRATCH_DATA_DIR", "/data/root")
    dirs = data.candidate_dirs("mnist", "/given")
    assert dirs[:2] == [Path("/given"), Path("/data/root/mnist")]
    assert dirs[2] == data.cache_dir() / "mnist"


@pytest.fixture
def mirror(tmp_path):
    """A local HTTP server on 127.0.0.1: /good/ serves the real MNIST files, /bad/ the same with one corrupt."""
    root = tmp_path / "www"
    for sub in ("good", "bad"):
        shutil.copytree(SHARED_MNIST, root / sub, ignore=shutil.ignore_patterns("*.md", "SHA*"))
    bad = root / "bad" / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(gzip.compress(gzip.decompress(bad.read_bytes())[:-1] + b"\x07"))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_verifies_and_falls_back_to_the_next_mirror(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("NNSCRATCH_DATA_DIR", str(tmp_path / "empty"))
    ds = load_mnist(mirrors=[f"{mirror}/bad/", f"{mirror}/good/"])
    assert ds.X_train.shape == (784, 60000) and ds.y_test.shape == (10000,)
    cached = sorted(p.name for p in (data.cache_dir() / "mnist").iterdir())
    files = datasets.catalogue_of(datasets.data_config("mnist")).files
    assert cached == sorted(f"{f}.gz" for f, _ in files.values())
    # a second load finds the cache and downloads nothing
    assert data.locate("mnist", files) is not None


def test_download_from_only_a_corrupt_mirror_names_the_file(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("NNSCRATCH_DATA_DIR", str(tmp_path / "empty"))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: checksum mismatch"):
        load_mnist(mirrors=[f"{mirror}/bad/"])
    assert not (data.cache_dir() / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()


def test_real_mnist_shapes_and_labels(mnist):
    assert mnist.X_train.shape == (784, 60000) and mnist.X_train.dtype == np.uint8
    assert mnist.X_test.shape == (784, 10000)
    assert np.bincount(mnist.y_test).tolist()[1] == 1135


def test_preprocessing_subset_and_scaling(mnist):
    first = data.prepare(mnist, 500, "unit")
    assert first.X_train.shape == (784, 500) and first.X_train.dtype == np.float32
    assert np.array_equal(first.y_train, mnist.y_train[:500]) and first.X_train.max() <= 1.0
    assert data.prepare(mnist, 500, "none").X_train.max() == 255.0
    std = data.prepare(mnist, 5000, "standardize")
    assert abs(float(std.X_train.mean())) < 1e-3 and abs(float(std.X_train.std()) - 1) < 1e-3
    strat = data.prepare(mnist, 1000, "unit", "stratified", subset_seed=3)
    counts = np.bincount(strat.y_train)
    expected = np.bincount(mnist.y_train) / 60000 * 1000
    assert np.all(np.abs(counts - expected) <= 1)
    again = data.prepare(mnist, 1000, "unit", "stratified", subset_seed=3)
    assert np.array_equal(strat.y_train, again.y_train)


def restore_pinned(monkeypatch) -> None:
    """pin_paths writes os.environ: have monkeypatch put back what the suite had."""
    for name in (data.LAUNCH_ENV, data.GIVEN_ENV):
        monkeypatch.setenv(name, os.environ.get(name, ""))


def test_a_relative_data_dir_means_relative_to_where_it_was_typed(tmp_path, monkeypatch):
    shared = Path(os.environ["NNSCRATCH_DATA_DIR"])
    launch = tmp_path / "launch"
    launch.mkdir()
    monkeypatch.chdir(launch)
    restore_pinned(monkeypatch)
    monkeypatch.setenv("NNSCRATCH_DATA_DIR", os.path.relpath(shared, launch))
    data.pin_paths()
    assert os.environ["NNSCRATCH_DATA_DIR"] == str(shared.resolve())
    monkeypatch.chdir(tmp_path)  # a process started elsewhere still finds it
    files = datasets.catalogue_of(datasets.data_config("mnist")).files
    assert data.locate("mnist", files) is not None
    assert data.candidate_dirs("mnist", "given")[0] == launch / "given"  # data.dir=given, typed in launch/


def test_a_missing_relative_folder_is_named_as_given_and_as_resolved(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    restore_pinned(monkeypatch)
    monkeypatch.setenv("NNSCRATCH_DATA_DIR", "../nowhere")
    data.pin_paths()
    with pytest.raises(DataError) as err:
        datasets.load(datasets.data_config("mnist") | {"dir": "here", "mirrors": ["http://127.0.0.1:9/"]})
    text = str(err.value)
    assert f"{tmp_path / 'here'} (from data.dir=here, relative to {tmp_path}): no such folder" in text
    resolved = tmp_path.parent / "nowhere" / "mnist"
    assert f"{resolved} (from NNSCRATCH_DATA_DIR=../nowhere, relative to {tmp_path}): no such folder" in text
