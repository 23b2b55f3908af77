"""The progress bar sees the work inside running tasks, so its estimate holds before any task ends."""

import copy
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from nnscratch.data import prepare
from nnscratch.run import plan, sweep
from nnscratch.run.progress import Display, Progress, closing_lines, shown_fraction
from nnscratch.train.stack import Hooks, Stack


@pytest.fixture(scope="module")
def data(mnist):
    return prepare(mnist, 1000, "unit")


def test_a_stack_reports_planned_and_live_work_of_each_model(small_config, data, monkeypatch):
    monkeypatch.setattr("nnscratch.train.stack.REPORT_EVERY", 0.0)  # a report after every iteration
    dying = copy.deepcopy(small_config)
    dying["weights"]["scheme"], dying["biases"]["scheme"] = "zeros", "zeros"  # every unit dead at once
    reports = []
    done = Stack([small_config, dying], data, hooks=Hooks(report=reports.append)).train()
    healthy, dead = zip(*reports)
    assert [p for p, *_ in healthy] == [i / 100 for i in range(1, 101)] + [1.0]  # iterations done / planned
    assert all(a <= p + 1e-12 for p, a, _ in healthy + dead)  # actual work: the units computed
    assert healthy[-1][:2] == (1.0, done[0].metrics["live_fraction"]) and healthy[-1][1] > 0.5
    assert dead[-1][:2] == (1.0, done[1].metrics["live_fraction"]) and dead[-1][1] < 0.05  # computes almost nothing
    assert all(live == 0 for *_, live in dead) and healthy[-1][2] == 1 - done[0].metrics["dead_l1"]


def spec(run_id: str, scaling: str, subset: int = 1000) -> dict:
    config = {"model": {"hidden": [10]}, "data": {"subset": subset, "scaling": scaling}, "train": {"iterations": 10}}
    return {"run_id": run_id, "config": config}


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_eta_times_each_group_and_list_schedules_the_tasks_left(tmp_path, monkeypatch):
    monkeypatch.setattr(Progress, "PASS_UNITS", 0.0)  # the passes' share: the next test
    clock, unit = Clock(), 10 * 1000 * 10  # planned work of a run: units x samples x iterations
    specs = [spec("a1", "unit"), spec("b1", "none"), spec("a2", "unit"), spec("b2", "none"), spec("c", "unit", 2000)]
    bar = Progress(specs, set(), Display(False, "t", tmp_path / "p.csv"), clock=clock)
    bar.plan([["a1"], ["b1"], ["a2"], ["b2"], ["c"]], workers=2)
    assert np.isnan(bar.estimate())  # nothing timed yet
    clock.now = 11.0
    bar.moving({"a1": (0.5, 0.5, 1.0), "zzz": (1.0, 1.0, 1.0)})  # a run of another sweep is ignored
    clock.now = 12.0
    bar.moving({"b1": (0.5, 0.05, 0.1)})  # half done, 90 % of its units dead
    # a1's task started at 10 (a report comes a second in): 2 s for 0.5 unit, its last half (all alive) 2 s;
    # b1's: 1 s for 0.05 unit, its rest 0.05 unit: 1 s. a2 at a's share and rate: 1 unit x 1.0 x 4 s = 4 s;
    # b2 at b's: 0.1 unit x 20 s = 2 s; c (2 units, no run of its group seen) at all groups' share (0.55)
    # and rate (3 s / 0.55 unit): 6 s. Workers free at [2, 1] -> a2 [2, 5] -> b2 [4, 5] -> c [10, 5].
    assert bar.estimate() == pytest.approx(10.0)
    # the bar shows time: at 11 s, 11 / (11 + an ETA of 7); at 12 s the ETA grew to 10 (12 / 22 is less): it stays
    assert bar.fraction == pytest.approx(11 / 18) and (bar.bar.n, bar.bar.total) == (611, 1000)
    assert bar.planned_share() == pytest.approx((0.5 + 0.5) * unit / (6 * unit))
    clock.now = 20.0
    bar.ended("a1", live_fraction=0.8, live_at_end=0.5)
    bar.moving({"a1": (0.9, 0.9, 0.9)})  # a late report of a run that ended counts no more
    # a: 10 s for 0.8 unit, half its units alive at the end -> a2: 0.5 unit x 12.5 s = 6.25 s;
    # b1: 9 s for 0.05 unit -> its rest 9 s. Pooled for c: share 0.3, 19 s / 0.85 unit -> 13.41 s.
    # Workers free at [0, 9] -> a2 [6.25, 9] -> b2 (0.1 unit x 180 s = 18 s) [24.25, 9] -> c [24.25, 22.41].
    assert bar.estimate() == pytest.approx(24.25)
    bar.moving({"c": (0.01, 0.01, 0.0)})  # c started, but too early for its share of units alive to count
    assert bar.task_evidence(4, clock.now).weighed == 0
    bar.ended("b1", live_fraction=1.0)  # failed or unknown: no say in the share of units alive
    bar.close()
    trail = pd.read_csv(tmp_path / "p.csv")
    assert list(trail.columns) == ["elapsed_s", "runs", "done", "eta_s", "busy", "session"]
    assert trail["done"].iloc[-1] == 1.0 and trail["runs"].iloc[-1] == 2


def test_a_pass_over_the_data_counts_so_a_thin_stack_of_an_unseen_group_costs_more_per_unit(monkeypatch):
    monkeypatch.setattr(Progress, "PASS_UNITS", 10.0)
    clock = Clock()  # work in units of samples x iterations (10,000): a pass costs 10 of them
    thick, thin = spec("a", "unit"), spec("c", "none")
    thick["config"]["model"]["hidden"] = [90]
    bar = Progress([thick, thin], set(), Display(False, "t"), clock=clock)
    bar.plan([["a"], ["c"]], workers=1)
    clock.now = 11.0
    bar.moving({"a": (0.5, 0.5, 1.0)})
    # a started at 10: 1 s for 45 units computed plus half its passes (5 units): 0.02 s per unit.
    # Its rest, 45 units at its own 1 s / 45 units: 1 s. c (10 units, its group unseen) at a's share
    # (1.0) and rate, its passes (10 units) included: 20 x 0.02 = 0.4 s. Without them: 10 / 45 s.
    assert bar.estimate() == pytest.approx(1.4)
    clock.now = 13.0
    bar.ended("a", live_fraction=1.0, live_at_end=1.0)  # a: 3 s for 90 + 10 units
    bar.moving({"c": (0.01, 0.01, 1.0)})  # c's first report: started at 12, too early to count
    # c's rest, 99 % of its work and of its passes, at a's rate (0.03 s per unit), not at its own
    # start-up's (1 s for 0.1 + 0.1 units: 5 s per unit).
    assert bar.estimate() == pytest.approx((9.9 + 9.9) * 0.03)


def test_a_run_reported_twice_is_counted_once_and_finished_runs_count_as_done(small_config):
    specs = [{"run_id": f"r{i}", "config": small_config} for i in range(4)]
    bar = Progress(specs, done={"r3"}, display=Display(enabled=False, desc="t"))
    assert bar.planned_share() == 0.25
    bar.ended("r0", live_fraction=0.25, live_at_end=0.125)
    bar.ended("r0", live_fraction=0.25, live_at_end=0.125)  # reported twice (a retry)
    assert bar.planned_share() == 0.5 and bar.ended_runs == {"r0": (0.25, 0.125)}


def test_equal_tasks_take_turns_by_group_so_every_group_is_seen_early():
    grid = yaml.safe_load((Path(__file__).parents[1] / "conf/sweep/log_grid.yaml").read_text())
    _, specs = sweep.plan(grid, [])
    planned = plan.tasks(specs, stack_rows=256, split=2)
    costs = [plan.cost(t) for t in planned]
    assert costs == sorted(costs, reverse=True)  # still the largest first
    groups = [plan.group_key(t[0]["config"]) for t in planned]
    scaling = [t[0]["config"]["data"]["scaling"] for t in planned]
    assert groups[0] != groups[1] and scaling[:4] == ["unit", "none", "unit", "none"]  # the 60k tasks
    assert sorted(map(id, sum(planned, []))) == sorted(map(id, specs))  # every run once


def test_a_sweep_shows_progress_before_its_only_task_ends(tmp_path, monkeypatch, long_grid):
    monkeypatch.setattr(Progress, "TRAIL_EVERY", 0.2)
    sweep_dir, counts = sweep.run(
        sweep.SweepRequest(long_grid, [], tmp_path), {"backend": "loky", "n_jobs": 1}, progress=False
    )
    assert counts["finished"] == 1
    trail = pd.read_csv(sweep_dir / "progress.csv")
    running = trail[(trail["runs"] == 0) & (trail["done"] > 0)]
    assert len(running) >= 2 and running["done"].is_monotonic_increasing and running["done"].min() < 1
    assert running["eta_s"].notna().all()
    assert not (sweep_dir / "runs" / ".progress").exists() or not any((sweep_dir / "runs" / ".progress").iterdir())


def test_a_log_that_is_no_terminal_gets_a_plain_line_every_30_seconds_not_carriage_returns(caplog):
    clock = Clock()
    specs = [spec("a", "unit"), spec("b", "unit")]
    with caplog.at_level("INFO", logger="nnscratch.run.progress"):
        bar = Progress(specs, set(), Display(True, "grid", tty=False), clock=clock)
        bar.plan([["a"], ["b"]], workers=1)
        for t in range(1, 95):  # 94 s of reports, one a second
            clock.now = float(t)
            bar.moving({"a": (min(1.0, t / 50), min(1.0, t / 50), 1.0)})
            if t == 50:
                bar.ended("a", live_fraction=1.0, live_at_end=1.0)
        bar.close()
    lines = [r.getMessage() for r in caplog.records]
    assert bar.bar.disable  # no tqdm bar at all
    assert len(lines) == 5  # at 0, 30, 60 and 90 s, and the last at close
    assert all("\r" not in line for line in lines)
    assert lines[2].startswith("grid: 01:00 elapsed, 1/2 runs (0 failed), 50 % of the planned work done, ETA ")
    assert lines[-1].startswith("grid: 01:34 elapsed, 1/2 runs")


def test_a_terminal_gets_the_bar_and_no_plain_lines(caplog):
    with caplog.at_level("INFO", logger="nnscratch.run.progress"):
        bar = Progress([spec("a", "unit")], set(), Display(True, "grid", tty=True), clock=Clock())
        shown = not bar.bar.disable
        bar.close()
    assert shown and not caplog.records


def test_the_bar_never_moves_back_when_the_eta_grows():
    shown = 0.0
    for elapsed, eta in [(1, float("nan")), (2, 8), (4, 4), (5, 15), (6, 14), (9, 1), (10, 0)]:
        now = shown_fraction(shown, elapsed, eta)
        assert now >= shown
        shown = now
    assert shown_fraction(0.0, 2, 8) == pytest.approx(0.2) and shown_fraction(0.5, 5, 15) == 0.5
    assert shown == 1.0


def test_the_sweeps_last_lines_say_how_runs_ended_and_where_to_look(tmp_path):
    counts = Counter({"finished": 92, "ok": 55, "collapsed": 37})
    report = tmp_path / "report.html"
    assert closing_lines(counts, "log_grid", report, tmp_path / "results.csv", {"name": "none"}) == [
        "92 runs: 55 ok, 37 collapsed.",
        f"Report: {report}",
    ]
    mlflow = {"name": "mlflow", "tracking_uri": "sqlite:///outputs/mlflow.db", "experiment": None}
    lines = closing_lines(counts + Counter({"failed": 2}), "g", None, tmp_path / "results.csv", mlflow)
    assert lines == [
        "94 runs: 55 ok, 37 collapsed, 2 did not finish.",
        f"Results: {tmp_path / 'results.csv'}",
        "MLflow: the runs are in sqlite:///outputs/mlflow.db, experiment 'g'.",
        "Open it with: mlflow ui --backend-store-uri sqlite:///outputs/mlflow.db --host 127.0.0.1 --port 5000",
    ]


def test_a_run_admitted_late_into_a_stack_is_timed_at_the_stacks_rate_not_by_its_own_work_alone(monkeypatch):
    monkeypatch.setattr(Progress, "PASS_UNITS", 0.0)
    clock = Clock()  # one task of two runs, admitted one after the other (a stack of at most one model)
    bar = Progress([spec("x", "unit"), spec("z", "unit")], set(), Display(False, "t"), clock=clock)
    bar.plan([["x", "z"]], workers=1)
    clock.now = 1.0
    bar.moving({"x": (0.01, 0.01, 1.0), "z": (0.0, 0.0, 1.0)})  # the task started at 0
    clock.now = 100.0
    bar.ended("x", live_fraction=1.0, live_at_end=1.0)  # x: 100 s for its unit of work
    clock.now = 101.0
    bar.moving({"z": (0.01, 0.01, 1.0)})
    # 101 s for 1.01 units: z's 0.99 unit left takes 99 s, not 0.99 x 101 s / 0.01 (its own work alone)
    assert bar.estimate() == pytest.approx(99.0)


def test_what_the_bar_was_told_replays_to_the_eta_it_showed(tmp_path, monkeypatch):
    from benchmarks.eta_replay import replay, sessions

    monkeypatch.setattr(Progress, "TRAIL_EVERY", 0.0)  # a sample at every redraw
    monkeypatch.setattr(Progress, "SHOW_EVERY", 0.0)
    clock, runs = Clock(), {r: spec(r, s) for r, s in [("a1", "unit"), ("b1", "none"), ("a2", "unit"), ("b2", "none")]}
    bar = Progress([runs["a1"], runs["b1"]], set(), Display(False, "t", tmp_path / "progress.csv"), clock=clock)
    bar.plan([["a1"], ["b1"]], workers=2)
    told = [
        (11.0, "moving", {"a1": (0.5, 0.5, 1.0)}),
        (12.0, "moving", {"b1": (0.5, 0.05, 0.1)}),
        (13.0, "foresee", [(runs["a2"], 2.0, 1.0)]),
        (20.0, "ended", ("a1", 0, 0.8, 0.5)),
        (21.0, "add", [[runs["a2"]], [runs["b2"]]]),
        (22.0, "moving", {"a2": (0.2, 0.2, 1.0), "b1": (0.9, 0.1, 0.1)}),
        (30.0, "ended", ("b1", 0, 0.1, 0.1)),
    ]
    for at, kind, args in told:
        clock.now = at
        getattr(bar, kind)(*args) if kind == "ended" else getattr(bar, kind)(args)
    bar.close()
    (session,) = sessions(tmp_path)
    assert [kind for _, kind, _ in session["events"]] == ["start", "plan", "plan"] + [k for _, k, _ in told]
    again = replay(session["events"], runs)
    shown = pd.DataFrame(bar.trail).iloc[:-1]  # its last row: close's redraw, which no event asks for
    assert len(shown) == 6 and shown["eta_s"].iloc[1:].notna().all() and shown["busy"].iloc[-1] == 1
    pd.testing.assert_frame_equal(again, shown)


def test_past_its_limit_the_bar_keeps_only_that_the_rest_was_not_kept(tmp_path, monkeypatch):
    from benchmarks.eta_replay import replay, sessions

    monkeypatch.setattr(Progress, "MAX_EVENTS", 4)
    clock, runs = Clock(), {"a1": spec("a1", "unit")}
    bar = Progress(list(runs.values()), set(), Display(False, "t", tmp_path / "progress.csv"), clock=clock)
    bar.plan([["a1"]], workers=1)  # start, plan([]), plan: 3 events
    for t in range(11, 15):
        clock.now = float(t)
        bar.moving({"a1": (t / 100, t / 100, 1.0)})
    bar.close()
    (session,) = sessions(tmp_path)
    assert [kind for _, kind, _ in session["events"]] == ["start", "plan", "plan", "moving", "not kept"]
    assert replay(session["events"], runs)["elapsed_s"].max() == 11.0  # the replay ends where the kept events do
