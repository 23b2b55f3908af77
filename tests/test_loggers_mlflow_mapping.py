"""nnscratch.loggers.mlflow.mapping: which folders hold runs, the experiment's name, a run's params and
metrics as MLflow takes them, and history.csv read as numbers (tags_of is tested through the logger)."""

from __future__ import annotations

import math
import os

import pytest

from nnscratch import results
from nnscratch.loggers.mlflow.mapping import (
    as_number,
    experiment_name,
    flatten,
    has_results,
    metrics_of,
    number,
    params_of,
    read_history_numbers,
    run_axes,
    run_folders,
    runs_root,
    text,
    written_stamp,
)


def run_folder(root, name: str, complete: bool = True):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    if complete:
        (folder / "metrics.json").write_text('{"status": "finished"}')
    return folder


@pytest.fixture
def sweep(tmp_path):
    """A sweep folder (sweep.json) named 'grid' with runs/a complete, runs/b half-written, runs/.c temporary."""
    folder = tmp_path / "grid" / "2026-01-01_00-00-00"
    folder.mkdir(parents=True)
    results.write_json(folder / "sweep.json", {"name": "grid", "axes": ["seed"]})
    run_folder(folder / "runs", "a")
    run_folder(folder / "runs", "b", complete=False)
    run_folder(folder / "runs", ".c")
    return folder


@pytest.fixture
def multirun(tmp_path):
    folder = tmp_path / "multirun"
    folder.mkdir()
    (folder / "multirun.yaml").write_text("hydra: {}\n")
    run_folder(folder, "0")
    run_folder(folder, "1")
    return folder


def test_the_experiment_is_named_after_the_grid_or_the_kind_of_train_run(sweep, multirun, tmp_path):
    assert experiment_name(sweep) == "grid"
    assert experiment_name(multirun) == "train-multirun"
    assert experiment_name(tmp_path) == "train"


def test_runs_are_under_runs_of_a_sweep_else_in_the_folder_itself(sweep, multirun, tmp_path):
    assert runs_root(sweep) == sweep / "runs" and has_results(sweep)
    assert runs_root(multirun) == multirun and has_results(multirun)
    assert runs_root(tmp_path) == tmp_path and not has_results(tmp_path)


def test_only_complete_run_folders_are_listed(sweep, multirun):
    assert run_folders(sweep) == ["a"]
    assert run_folders(multirun) == ["0", "1"]


@pytest.mark.parametrize(
    "value, written",
    [([64, 32], "[64,32]"), ((10,), "[10]"), ([], "[]"), (None, "null"), ([[1, None]], "[[1,null]]"), (0.1, "0.1")],
)
def test_a_value_is_written_as_results_csv_writes_an_axis(value, written):
    assert text(value) == written


def test_nested_keys_are_joined_by_dots():
    config = {"model": {"hidden": [10], "act": {"name": "relu"}}, "seed": 0, "empty": {}}
    assert flatten(config) == {"model.hidden": [10], "model.act.name": "relu", "seed": 0}


def test_a_run_without_axes_has_none():
    assert run_axes({"axes": {"seed": 1}}) == {"seed": 1}
    assert run_axes({"axes": None}) == {} and run_axes({}) == {}


def test_params_are_the_flat_config_and_the_group_choices_it_lacks():
    run = {"config": {"model": {"hidden": [64, 32]}, "seed": 3, "data": {"subset": None}}}
    params = params_of(run, {"weights": "zeros", "seed": 9})
    assert {(p.key, p.value) for p in params} == {
        ("model.hidden", "[64,32]"),
        ("seed", "3"),  # the resolved config wins over the axis
        ("data.subset", "null"),
        ("weights", "zeros"),
    }


@pytest.mark.parametrize("value, plotted", [(1, True), (0.5, True), (True, False), (math.nan, False), ("1", False)])
def test_only_numbers_mlflow_can_plot_are_metrics(value, plotted):
    assert number(value) is plotted


def test_the_history_is_step_metrics_and_the_final_metrics_it_lacks_come_at_the_last_iteration():
    history = [
        {"iteration": 0, "loss": 2.0, "dead_l1": math.nan},
        {"iteration": 50, "loss": 1.5, "dead_l1": None},
    ]
    metrics = {"iteration": 50, "loss": 1.5, "seconds": 3.0, "outcome": "ok", "collapsed": False}
    got = [(m.key, m.value, m.timestamp, m.step) for m in metrics_of(metrics, history, 7)]
    assert got == [("loss", 2.0, 7, 0), ("loss", 1.5, 7, 50), ("seconds", 3.0, 7, 50)]


def test_a_failed_run_without_history_has_its_final_metrics_at_step_0():
    got = [(m.key, m.step) for m in metrics_of({"status": "failed", "seconds": 0.5, "iteration": None}, [], 1)]
    assert got == [("seconds", 0)]


def test_history_is_read_as_numbers_with_none_for_text_and_empty_cells(tmp_path):
    (tmp_path / "history.csv").write_text("iteration,loss,note\n0,2.5,x\n10,nan,\n20,1\n")
    rows = read_history_numbers(tmp_path)
    assert rows[0] == {"iteration": 0.0, "loss": 2.5, "note": None}
    assert math.isnan(rows[1]["loss"]) and rows[1]["note"] is None
    assert rows[2] == {"iteration": 20.0, "loss": 1.0, "note": None}  # a short row: the missing cell is None


def test_a_run_without_history_has_no_rows(tmp_path):
    assert read_history_numbers(tmp_path) == []


def test_a_history_that_is_not_text_is_a_damaged_record_naming_the_file(tmp_path):
    (tmp_path / "history.csv").write_bytes(b"iteration,loss\n0,\xff\xfe\n")
    with pytest.raises(results.DamagedRecord, match=r"history\.csv: cannot be read as CSV \(UnicodeDecodeError"):
        read_history_numbers(tmp_path)


@pytest.mark.parametrize("cell, value", [("3", 3.0), ("-1e-3", -0.001), ("", None), ("ok", None), (None, None)])
def test_a_cell_is_a_number_or_none(cell, value):
    assert as_number(cell) == value


def test_the_written_stamp_is_the_metrics_files_mtime_in_ns(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text("{}")
    os.utime(path, ns=(1, 1_000_000_123))
    assert written_stamp(tmp_path) == "1000000123"
    os.utime(path, ns=(1, 2_000_000_456))  # rewritten: a new stamp
    assert written_stamp(tmp_path) == "2000000456"
