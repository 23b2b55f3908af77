"""python -m experiments.train: the log's reference run, and bad values refused before anything is written."""

import json
import subprocess
import sys

import pytest

from nnscratch.compose import CONF_DIR


def train_cli(*args, cwd=CONF_DIR.parent):
    return subprocess.run(
        [sys.executable, "-m", "experiments.train", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_default_run_is_the_logs_reference_and_writes_its_record(tmp_path):
    out = tmp_path / "run"
    proc = train_cli(f"out_dir={out}", "train.iterations=50")
    assert proc.returncode == 0, proc.stderr
    assert "train_acc" in proc.stdout and "test_acc" in proc.stdout and "outcome ok" in proc.stdout
    run = json.loads((out / "config.json").read_text())
    assert run["config"]["model"]["hidden"] == [10] and run["config"]["data"]["subset"] == 5000
    assert run["config"]["data"]["scaling"] == "unit" and run["config"]["weights"]["scheme"] == "uniform"
    assert run["config"]["train"]["lr"] == 0.1 and run["command"].endswith("train.iterations=50")
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"train_acc", "test_acc", "outcome"} <= set(metrics)
    assert (out / "history.csv").read_text().startswith("iteration,loss,train_acc,test_acc")


@pytest.mark.parametrize(
    "override,key",
    [
        ("model.hidden=[0]", "model.hidden"),
        ("data.subset=60001", "data.subset"),
        ("train.lr=0", "train.lr"),
        ("weights.scheme=orthogonal", "weights.scheme"),
        ("weights=orthogonal", "weights"),
        ("data.scaling=minmax", "data.scaling"),
    ],
)
def test_bad_value_names_the_key_exits_nonzero_and_writes_nothing(tmp_path, override, key):
    proc = train_cli(override, f"out_dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode != 0
    assert key in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_missing_data_is_one_clear_error(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.train",
            "data=mnist",
            f"out_dir={tmp_path / 'run'}",
            "data.mirrors=[http://127.0.0.1:9/]",
        ],
        cwd=CONF_DIR.parent,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "NNSCRATCH_DATA_DIR": str(tmp_path / "none"),
            "HOME": str(tmp_path),
        },
    )
    assert proc.returncode != 0
    assert "dataset 'mnist' not found" in proc.stderr and "NNSCRATCH_DATA_DIR" in proc.stderr
    assert not (tmp_path / "run").exists()
