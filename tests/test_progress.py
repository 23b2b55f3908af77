"""The progress bar sees the work inside running tasks, so its estimate holds before any task ends."""

import copy

import pandas as pd
import pytest

from nnscratch import runner, sweep
from nnscratch.data import prepare
from nnscratch.train import Stack


@pytest.fixture(scope="module")
def data(mnist):
    return prepare(mnist, 1000, "unit")


def test_a_stack_reports_planned_and_live_work_of_each_model(small_config, data, monkeypatch):
    monkeypatch.setattr("nnscratch.train.REPORT_EVERY", 0.0)  # a report after every iteration
    dying = copy.deepcopy(small_config)
    dying["weights"]["scheme"], dying["biases"]["scheme"] = "zeros", "zeros"  # every unit dead at once
    reports = []
    done = Stack([small_config, dying], data, report=reports.append).train()
    healthy, dead = zip(*reports)
    assert [p for p, *_ in healthy] == [i / 100 for i in range(1, 101)] + [1.0]  # iterations done / planned
    assert all(a <= p + 1e-12 for p, a, _ in healthy + dead)  # actual work: the units computed
    assert healthy[-1][:2] == (1.0, done[0].metrics["live_fraction"]) and healthy[-1][1] > 0.5
    assert dead[-1][:2] == (1.0, done[1].metrics["live_fraction"]) and dead[-1][1] < 0.05  # computes almost nothing
    assert all(live == 0 for *_, live in dead) and healthy[-1][2] == 1 - done[0].metrics["dead_l1"]


def spec(run_id: str, hidden: int) -> dict:
    return {
        "run_id": run_id,
        "config": {"model": {"hidden": [hidden]}, "data": {"subset": 1000}, "train": {"iterations": 10}},
    }


def test_the_bar_counts_running_work_and_estimates_the_rest_from_the_units_alive(tmp_path):
    bar = runner.Progress([spec("a", 10), spec("b", 10), spec("c", 20)], set(), False, "t", tmp_path / "p.csv")
    unit = 10 * 1000 * 10  # planned work of a 10-unit run
    bar.moving({"a": (0.5, 0.4, 0.6), "zzz": (1.0, 1.0, 1.0)})  # a run of another sweep is ignored
    done, left = bar.estimate()
    assert done == pytest.approx(0.4 * unit)
    # a's last half at its 60 % of units alive; b and c (3 units of work) at the 60 % alive so far
    assert left == pytest.approx(0.5 * 0.6 * unit + 3 * unit * 0.6)
    assert (bar.bar.n, bar.bar.total) == pytest.approx((done, done + left))
    bar.ended("a", live_fraction=0.5, live_at_end=0.2)
    bar.moving({"a": (0.9, 0.9, 0.9), "b": (0.5, 0.5, 1.0)})  # a late report of a run that ended counts no more
    done, left = bar.estimate()
    assert done == pytest.approx(0.5 * unit + 0.5 * unit)
    assert left == pytest.approx(0.5 * unit * 1.0 + 2 * unit * (0.2 + 1.0) / 2)  # c at the mean of a's end and b
    bar.ended("b", live_fraction=1.0)  # failed or unknown: no say in the live share
    bar.close()
    trail = pd.read_csv(tmp_path / "p.csv")
    assert list(trail.columns) == ["elapsed_s", "runs", "done", "eta_s", "session"]
    assert trail["done"].iloc[-1] == 1.0 and trail["runs"].iloc[-1] == 2


def test_a_sweep_shows_progress_before_its_only_task_ends(tmp_path, monkeypatch, long_grid):
    monkeypatch.setattr(runner.Progress, "TRAIL_EVERY", 0.2)
    sweep_dir, counts = sweep.run(long_grid, {"backend": "loky", "n_jobs": 1}, [], tmp_path, progress=False)
    assert counts["finished"] == 1
    trail = pd.read_csv(sweep_dir / "progress.csv")
    running = trail[(trail["runs"] == 0) & (trail["done"] > 0)]
    assert len(running) >= 2 and running["done"].is_monotonic_increasing and running["done"].max() < 1
    assert running["eta_s"].notna().all()
    assert not (sweep_dir / "runs" / ".progress").exists() or not any((sweep_dir / "runs" / ".progress").iterdir())
