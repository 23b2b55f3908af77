"""nnscratch.run.loky's pure helpers: runs in flight of a dead pool, worker deaths, records ended."""

import json
from collections import Counter

import pytest

from nnscratch.run.loky import collect_ended, in_flight, is_worker_death
from nnscratch.run.progress import Display, Progress


def spec(run_id: str) -> dict:
    config = {"model": {"hidden": [10]}, "data": {"subset": 100}, "train": {"iterations": 10}}
    return {"run_id": run_id, "config": config}


def test_in_flight_names_the_started_runs_and_clears_what_the_pool_left(tmp_path):
    for folder, names in {
        ".started": ["r1", "r2"],
        ".progress": ["w.json"],
        ".ended": ["r0.json"],
        ".busy": ["7"],
    }.items():
        (tmp_path / folder).mkdir()
        for name in names:
            (tmp_path / folder / name).write_text("{}")
    assert sorted(in_flight(tmp_path)) == ["r1", "r2"]
    assert list((tmp_path / ".started").iterdir()) == []
    assert not any((tmp_path / f).exists() for f in (".progress", ".ended", ".busy"))
    assert in_flight(tmp_path) == []


def test_in_flight_of_a_fresh_sweep_is_none(tmp_path):
    assert in_flight(tmp_path / "runs") == []


@pytest.mark.parametrize(
    "name, death",
    [("TerminatedWorkerError", True), ("KilledWorker", True), ("BrokenProcessPool", True), ("ValueError", False)],
)
def test_a_worker_death_is_known_by_its_kind(name, death):
    assert is_worker_death(type(name, (Exception,), {})()) is death


def test_collect_ended_counts_each_summary_once_and_forgets_it(tmp_path):
    folder = tmp_path / ".ended"
    folder.mkdir()
    summaries = [
        {"run_id": "a", "status": "finished", "outcome": "ok", "dead_l1": 0.0},
        {"run_id": "b", "status": "finished", "outcome": "collapsed", "dead_l1": 0.5},
        {"run_id": "c", "status": "failed", "outcome": None},
    ]
    for s in summaries:
        (folder / f"{s['run_id']}.json").write_text(json.dumps(s))
    (folder / "d.json").write_text('{"run_id": "d", "sta')  # half written: looked at again next time
    bar, counts = Progress([spec(r) for r in "abcd"], set(), Display(False, "t")), Counter()
    collect_ended(folder, counts, bar)
    assert counts == Counter(finished=2, ok=1, collapsed=1, failed=1)
    assert bar.seen == {"a", "b", "c"}
    assert [p.name for p in folder.iterdir()] == ["d.json"]
    (folder / "a.json").write_text(json.dumps(summaries[0]))  # the same run again: counted once
    collect_ended(folder, counts, bar)
    assert counts == Counter(finished=2, ok=1, collapsed=1, failed=1)


def test_collect_ended_without_a_folder_counts_nothing(tmp_path):
    counts = Counter()
    collect_ended(tmp_path / ".ended", counts, Progress([spec("a")], set(), Display(False, "t")))
    assert counts == Counter()
