"""nnscratch.report.load: a sweep folder, or a Hydra multirun, read into the Sweep the report needs."""

from __future__ import annotations

import pytest

from nnscratch import results
from nnscratch.report.load import load_sweep


def write_runs(runs_dir, seeds: list[int], dataset: str = "fashion") -> None:
    """One run per seed (its only axis) in `runs_dir`, each with a history of two rows."""
    for i, seed in enumerate(seeds):
        run = {"run_id": f"r{i}", "command": "c", "axes": {"seed": seed}, "config": {"data": {"name": dataset}}}
        history = [{"iteration": 0, "loss": 2.0 + i}, {"iteration": 10, "loss": 1.0 + i}]
        metrics = {"status": "finished", "outcome": "ok", "test_acc": 0.5 + i / 10, "iteration": 10}
        results.write_run(runs_dir / run["run_id"], run, metrics, history)


@pytest.fixture
def sweep_dir(tmp_path):
    folder = tmp_path / "grid"
    write_runs(folder / "runs", [0, 1])
    results.write_json(folder / "sweep.json", {"name": "grid", "axes": ["seed"], "rounds": []})
    results.write_results(folder)
    return folder


def test_a_sweep_is_read_with_its_name_dataset_axes_runs_and_histories(sweep_dir):
    s = load_sweep(sweep_dir)
    assert (s.path, s.name, s.dataset, s.axes) == (sweep_dir, "grid", "fashion", ["seed"])
    assert s.runs[["run_id", "seed", "test_acc"]].values.tolist() == [["r0", 0, 0.5], ["r1", 1, 0.6]]
    assert s.histories[["run_id", "iteration", "loss"]].values.tolist() == [
        ["r0", 0, 2.0],
        ["r0", 10, 1.0],
        ["r1", 0, 3.0],
        ["r1", 10, 2.0],
    ]
    assert s.record == {"name": "grid", "axes": ["seed"], "rounds": []}


def test_a_multirun_is_read_as_a_sweep_of_the_keys_its_jobs_swept(tmp_path):
    folder = tmp_path / "multirun"
    write_runs(folder, [0, 1], dataset="mnist")
    (folder / "multirun.yaml").write_text("hydra: {}\n")
    results.write_results(folder)
    s = load_sweep(folder)
    assert (s.name, s.dataset, s.axes, len(s.runs)) == ("multirun", "mnist", ["seed"], 2)
    assert s.record["multirun"] is True


def test_a_sweep_without_runs_has_an_unknown_dataset_and_empty_tables(tmp_path):
    results.write_json(tmp_path / "sweep.json", {"name": "empty", "axes": ["seed"]})
    results.write_results(tmp_path)
    s = load_sweep(tmp_path)
    assert (s.dataset, len(s.runs), len(s.histories)) == ("unknown", 0, 0)
    assert list(s.runs.columns[:2]) == ["run_id", "seed"]
