"""What adaptive seeds would cost a real sweep (benchmarks.seed_cost), on a tiny real grid of 5 seeds
whose uniform-weight cell is put on, or far from, a check's threshold."""

import pytest

from benchmarks.seed_cost import replay, seed_cost
from nnscratch import results
from nnscratch.claims import design
from nnscratch.run import sweep

LOKY = {"backend": "loky", "n_jobs": 2, "scheduler": None, "stack_rows": 256}
GRID = {
    "name": "cost",
    "axes": {
        "model": {"hidden": [[8]]},
        "data": {"subset": [500]},
        "weights": ["uniform", "zeros"],  # zero weights, zero biases: every seed the same run
        "train": {"iterations": [20], "eval_every": [10]},
        "seed": [0, 1, 2, 3, 4],
    },
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    sweep_dir, _ = sweep.run(
        sweep.SweepRequest(GRID, [], tmp_path_factory.mktemp("cost") / "out"), LOKY, progress=False
    )
    return sweep_dir, results.read_results(sweep_dir)


def claims_at(value: float) -> dict:
    check = {"what": "test accuracy reaches the value", "kind": "threshold", "select": {}, "measure": "test_acc"}
    check |= {"seed_independent": {"weights": "zeros"}, "value": value}
    claim = {"id": "cost", "title": "A claim to cost", "checks": [check]}
    return {"confidence": 0.95, "sequential": {"looks": [3, 6, 10], "spending": {"power": 0.5}}, "claims": [claim]}


def cost(folder, value: float, max_seeds: int) -> dict:
    claims = claims_at(value)
    return seed_cost(claims, folder[0], design(claims), max_seeds, first=3, reps=4000, seed=0)


def test_a_cell_on_its_threshold_is_charged_seeds_until_no_look_can_decide_it(folder):
    runs = folder[1]
    uniform = runs[runs["weights"] == "uniform"]
    at_mean = cost(folder, float(uniform["test_acc"].median()), 10)
    assert at_mean["open check cells at the grid's seeds"] == 1  # the zeros cell: decided by its confirmed value
    assert at_mean["run cells given seeds"] == 1
    # half the seeds pass: a round goes to the look still reachable (6 or 10), rarely decided there
    assert 3 <= at_mean["expected extra runs"] <= 7.0
    seconds = uniform["seconds"].mean()
    assert at_mean["expected extra run-seconds (as measured in the folder)"] == pytest.approx(
        at_mean["expected extra runs"] * seconds
    )
    assert at_mean["grid run-seconds (as measured in the folder)"] == pytest.approx(
        runs.loc[runs["seed"] < 3, "seconds"].sum()
    )
    assert 0.8 < at_mean["expected check cells still open"] <= 1.0
    assert cost(folder, float(uniform["test_acc"].median()), 6)["expected extra runs"] <= 3.0


def test_a_cell_far_from_its_threshold_costs_the_seeds_to_the_first_deciding_look(folder):
    far = cost(folder, -1.0, 10)  # every accuracy is far above -1: every seed passes, 6 of 6 decide at 6
    assert far["open check cells at the grid's seeds"] == 1 and far["expected extra runs"] == 3
    assert far["expected check cells still open"] == 0


def test_a_replay_takes_the_folders_own_seeds_and_a_futility_stop_takes_fewer(folder):
    """benchmarks.seed_cost.replay on the 5-seed folder, the threshold put so that 1 of the uniform cell's
    first 3 seeds passes: without a stop the round takes its seeds 3 and 4 (max_seeds 5); at a stop of 0.6
    the cell is stopped at 3 seeds (even a 1.4-sd effect would fail it by 10 only with chance 0.55)."""
    runs = folder[1]
    first = sorted(runs.loc[(runs["weights"] == "uniform") & (runs["seed"] < 3), "test_acc"])
    claims = claims_at(float(first[2]))  # the largest of the first 3 passes, the other two fail
    plain = replay(claims, folder[0], 5, 3)
    assert plain["runs"] == 8 and plain["rounds"] == 1 and plain["cells wanted beyond the record"] == 0
    assert plain["cells changed or stopped for futility"] == []
    assert [cell.split('"weights": ')[1][:7] for cell in plain["run cells given fewer seeds"]] == ['"zeros"']
    assert replay(claims, folder[0], 10, 3)["cells wanted beyond the record"] == 1  # it wants 10: the folder has 5
    claims["sequential"]["futility"] = {"below": 0.6}
    stopped = replay(claims, folder[0], 5, 3)
    assert stopped["runs"] == 6 and stopped["rounds"] == 0
    assert stopped["run-seconds"] < plain["run-seconds"] < runs["seconds"].sum()
    assert "stopped for futility at 3 seeds: 1 of 3 pass" in stopped["cells changed or stopped for futility"][0]
