"""Stacked training equals one-at-a-time training up to float32 rounding, and models stay independent."""

import copy

import pytest

from nnscratch.data import prepare
from nnscratch.run.plan import tasks
from nnscratch.train import Stack, train, train_stack


def variant(base: dict, hidden: int, weights: str, biases: str, seed: int, std: float = 1.0) -> dict:
    cfg = copy.deepcopy(base)
    cfg["model"]["hidden"] = [hidden]
    cfg["weights"] |= {"scheme": weights} | ({"std": std} if weights == "normal" else {})
    cfg["biases"]["scheme"] = biases
    cfg["seed"] = seed
    return cfg


@pytest.fixture(scope="module")
def data(mnist):
    return prepare(mnist, 1000, "unit")


def test_stacked_runs_match_single_runs_and_a_diverging_one_harms_no_neighbour(small_config, data):
    cfgs = [
        variant(small_config, 10, "uniform", "zeros", 0),
        variant(small_config, 32, "uniform", "normal", 1),
        variant(small_config, 10, "zeros", "zeros", 2),
        variant(small_config, 16, "normal", "zeros", 3, std=1e30),  # overflows at once: diverges
        variant(small_config, 64, "he", "zeros", 4),
    ]
    stacked = train_stack(cfgs, data)
    singles = [train(c, data) for c in cfgs]
    assert stacked[3].metrics["outcome"] == singles[3].metrics["outcome"] == "diverged"
    for s, one in zip(stacked, singles):
        assert s.metrics["outcome"] == one.metrics["outcome"]
        if one.metrics["outcome"] != "diverged":
            assert abs(s.metrics["test_acc"] - one.metrics["test_acc"]) <= 0.002
            assert [h["iteration"] for h in s.history] == [h["iteration"] for h in one.history]
            assert s.history[-1]["distinct_l1"] == one.history[-1]["distinct_l1"]
            assert s.history[-1]["loss"] == pytest.approx(one.history[-1]["loss"], rel=1e-3)
    without = train_stack([c for i, c in enumerate(cfgs) if i != 3], data)
    assert [r.metrics["test_acc"] for r in without] == [r.metrics["test_acc"] for i, r in enumerate(stacked) if i != 3]


def test_stacked_training_is_deterministic(small_config, data):
    cfgs = [variant(small_config, h, "uniform", "zeros", s) for h, s in ((10, 0), (32, 1))]
    a, b = train_stack(cfgs, data), train_stack(cfgs, data)
    assert [r.history for r in a] == [r.history for r in b]


def test_tasks_stack_only_runs_that_share_data_and_schedule(small_config):
    specs = []
    for i, (subset, iters, hidden) in enumerate(
        [(1000, 100, 10), (1000, 100, 32), (1000, 200, 10), (2000, 100, 64), (1000, 100, 64), (1000, 100, 10)]
    ):
        cfg = variant(small_config, hidden, "uniform", "zeros", i)
        cfg["data"]["subset"], cfg["train"]["iterations"] = subset, iters
        specs.append({"run_id": f"r{i}", "config": cfg})
    groups = [sorted(s["run_id"] for s in t) for t in tasks(specs, stack_rows=80)]
    assert sorted(groups) == sorted([["r0", "r1", "r4", "r5"], ["r2"], ["r3"]])
    split = [sorted(s["run_id"] for s in t) for t in tasks(specs, stack_rows=20)]  # 116 units > 4 x 20: two tasks
    assert sorted(split) == sorted([["r1", "r5"], ["r0", "r4"], ["r2"], ["r3"]])  # dealt widest first
    per_worker = [sorted(s["run_id"] for s in t) for t in tasks(specs, stack_rows=80, split=2)]
    assert sorted(per_worker) == sorted([["r1", "r5"], ["r0", "r4"], ["r2"], ["r3"]])  # two workers can share the group
    assert all(len(t) == 1 for t in tasks(specs, stack_rows=0))


def test_a_stack_admits_the_next_models_as_rows_free_up_without_changing_them(small_config, data):
    cfgs = [
        variant(small_config, 32, "uniform", "zeros", 0),
        variant(small_config, 10, "zeros", "zeros", 1),  # dead at once: frees its rows
        variant(small_config, 16, "he", "normal", 2),
        variant(small_config, 24, "uniform", "zeros", 3),
    ]
    stack = Stack(cfgs, data, max_rows=40)
    stack.admit()
    assert [m.admitted for m in stack.models] == [True, False, False, False]  # 32 + 10 > 40
    limited, unlimited = stack.train(), train_stack(cfgs, data)
    for a, b in zip(limited, unlimited):
        assert a.metrics["outcome"] == b.metrics["outcome"]
        assert abs(a.metrics["test_acc"] - b.metrics["test_acc"]) <= 0.002
        assert [h["iteration"] for h in a.history] == [h["iteration"] for h in b.history]
        assert a.history[-1]["loss"] == pytest.approx(b.history[-1]["loss"], rel=1e-3)
