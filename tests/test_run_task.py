"""nnscratch.run.task.execute: a task's records, its hooks, a failure as a record."""

import copy

import pytest

from nnscratch.run.prepared import prepare_for
from nnscratch.run.task import TaskHooks, execute


@pytest.fixture(scope="module")
def data(composed_small_config):
    """The small config's data, prepared once for the module (1,000 images)."""
    return prepare_for(composed_small_config)


@pytest.fixture
def two_seeds(small_config) -> list[dict]:
    """Two runs of the small config that stack: seeds 0 and 1, 20 iterations."""
    small_config["train"] |= {"iterations": 20, "eval_every": 10}
    return [{"run_id": f"s{seed}", "config": copy.deepcopy(small_config) | {"seed": seed}} for seed in (0, 1)]


def test_a_stack_finishes_with_one_record_per_run(two_seeds, data):
    done = execute(two_seeds, data)
    assert [m["status"] for m, _ in done] == ["finished", "finished"]
    assert [m["stacked_with"] for m, _ in done] == [2, 2]
    assert [[row["iteration"] for row in h][-3:] for _, h in done] == [[8, 10, 20]] * 2  # every eval_every, and the end
    assert done[0][0]["train_acc"] != done[1][0]["train_acc"]  # two seeds, two runs


def test_on_stop_gets_each_run_once_with_the_record_returned(two_seeds, data):
    stopped = []
    done = execute(two_seeds, data, hooks=TaskHooks(on_stop=lambda *r: stopped.append(r)))
    assert sorted(s["run_id"] for s, _, _ in stopped) == ["s0", "s1"]  # once each
    by_id = {s["run_id"]: (m, h) for s, m, h in stopped}
    assert [by_id[s["run_id"]] for s in two_seeds] == done


def test_fault_raise_gives_failed_records_and_stops_each_run_once(two_seeds, data):
    for spec in two_seeds:
        spec["config"]["fault"] = "raise"
    stopped = []
    done = execute(two_seeds, data, hooks=TaskHooks(on_stop=lambda *r: stopped.append(r)))
    assert [m["status"] for m, _ in done] == ["failed", "failed"]
    assert {m["error"] for m, _ in done} == {"RuntimeError: fault injected by config (fault=raise)"}
    assert [h for _, h in done] == [[], []]
    assert [(s["run_id"], m["status"]) for s, m, _ in stopped] == [("s0", "failed"), ("s1", "failed")]


def test_report_names_each_run_of_the_stack(two_seeds, data, monkeypatch):
    monkeypatch.setattr("nnscratch.train.stack.REPORT_EVERY", 0.0)  # every iteration reports
    seen = []
    execute(two_seeds, data, hooks=TaskHooks(report=seen.append))
    assert seen and all(set(r) <= {"s0", "s1"} for r in seen)
    assert any(set(r) == {"s0", "s1"} for r in seen)
