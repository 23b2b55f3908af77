"""nnscratch.run.plan: which runs stack together, in what order tasks go, how many workers run them."""

import copy

import pytest

from nnscratch.run import plan


@pytest.fixture
def make(small_config):
    """spec(run_id, hidden, **train): a run of the small config with that hidden size and schedule."""

    def spec(run_id: str, hidden: int = 10, **train) -> dict:
        config = copy.deepcopy(small_config)
        config["model"]["hidden"] = [hidden]
        config["train"] |= train
        return {"run_id": run_id, "config": config}

    return spec


def ids(tasks: list[list[dict]]) -> list[list[str]]:
    return [[s["run_id"] for s in t] for t in tasks]


def test_cost_is_units_times_samples_times_iterations(make):
    assert plan.cost([make("a", 10)]) == 10 * 1000 * 100
    assert plan.cost([make("a", 10), make("b", 64)]) == 74 * 1000 * 100


def test_only_full_batch_builtin_runs_without_faults_stack(make):
    assert plan.stackable(make("a")["config"])
    assert not plan.stackable(make("a", batch_size=100)["config"])
    faulty = make("a")
    faulty["config"]["fault"] = "raise"
    assert not plan.stackable(faulty["config"])
    notebook = make("a")
    notebook["config"]["network"] = {"name": "notebook"}
    assert not plan.stackable(notebook["config"])


def test_without_stacking_each_run_is_a_task_largest_first(make):
    assert ids(plan.tasks([make("s", 10), make("l", 64), make("m", 32)], stack_rows=0)) == [["l"], ["m"], ["s"]]


def test_runs_on_one_schedule_stack_and_others_apart(make):
    specs = [make("a", 10), make("b", 10), make("c", 10, lr=0.5)]
    assert ids(plan.tasks(specs, stack_rows=64)) == [["a", "b"], ["c"]]
    assert ids(plan.tasks(specs, stack_rows=64, split=2)) == [["a"], ["c"], ["b"]]  # each group's first first


def test_a_group_too_wide_for_one_task_is_dealt_round_robin(make):
    specs = [make(f"r{i}", 64) for i in range(6)]  # 384 units; a task holds TASK_STACKS x 32 = 128
    assert ids(plan.tasks(specs, stack_rows=32)) == [["r0", "r3"], ["r1", "r4"], ["r2", "r5"]]


def test_a_task_with_a_run_left_trains_again_whole(make):
    specs = [make("a"), make("b"), make("c", 64, lr=0.5)]
    assert ids(plan.plan_tasks([specs], 64, 1, done={"a"})) == [["c"], ["a", "b"]]
    assert ids(plan.plan_tasks([specs], 64, 1, done={"a", "b"})) == [["c"]]
    assert ids(plan.pending([specs[:2], specs[2:]], done={"a", "c"})) == [["b"]]


def test_each_cell_round_is_one_task(make):
    rounds = [[make("x1"), make("x2")], [make("y1", 64)]]
    assert ids(plan.round_tasks(rounds, 64, done=set())) == [["y1"], ["x1", "x2"]]


def test_workers_times_blas_threads_stay_within_the_cores(make, monkeypatch, caplog):
    monkeypatch.setattr(plan.joblib, "cpu_count", lambda: 8)
    two_threads = [make("a", blas_threads=2)]
    assert plan.worker_count(None, two_threads) == 4
    assert plan.worker_count(3, two_threads) == 3
    assert plan.worker_count(6, two_threads) == 4
    assert "parallel.n_jobs=6 x 2 BLAS threads exceeds 8 cores: using 4 workers" in caplog.text
