"""Overlapped adaptive rounds (nnscratch.run.overlap): a cell decides its round as soon as the cells it is
judged with are in, and every decision is strict rounds' own (the same seeds, records and verdicts)."""

import json

import pytest
import yaml

from nnscratch import results
from nnscratch.run import sweep
from nnscratch.run.adaptive import cell_key
from nnscratch.run.overlap import OverlappedRounds
from nnscratch.run.progress import Display, Progress
from nnscratch.stats import pass_rate_prior, seeds_to_come

LOKY = {"backend": "loky", "n_jobs": 2, "scheduler": None, "stack_rows": 256, "stack_tasks": 2}
GRID = {
    "name": "two_checks",
    "axes": {
        "model": {"hidden": [[8], [16]]},
        "data": {"subset": [500]},
        "weights": ["uniform", "zeros"],  # zero init has no randomness: every seed gives the same run
        "train": {"iterations": [20], "eval_every": [10]},
        "seed": [0, 1, 2],
    },
}


def claims(value_8: float, value_16: float) -> dict:
    """Each uniform cell on its own threshold (its own check: the two are judged apart); the zero cells
    together, far below theirs, declared seed-independent."""

    def threshold(hidden: str, value: float) -> dict:
        select = {"model.hidden": hidden, "weights": "uniform"}
        check = {"what": f"{hidden} reaches", "kind": "threshold", "select": select, "measure": "test_acc"}
        return {"id": f"h{hidden[1:-1]}", "title": f"hidden {hidden}", "checks": [check | {"value": value}]}

    zeros = {"what": "zeros stay low", "kind": "threshold", "select": {"weights": "zeros"}, "measure": "test_acc"}
    zeros |= {"op": "<=", "value": 0.9, "seed_independent": {"weights": "zeros"}}
    return {
        "confidence": 0.95,
        "claims": [
            threshold("[8]", value_8),
            threshold("[16]", value_16),
            {"id": "z", "title": "z", "checks": [zeros]},
        ],
    }


def test_a_cell_decides_its_round_when_the_cells_it_is_judged_with_are_in():
    _, specs = sweep.plan(GRID, [])
    flow = OverlappedRounds(claims(0.5, 0.5), ["model.hidden", "data.subset", "weights", "seed"], specs, 10)
    key = {(s["axes"]["model.hidden"], s["axes"]["weights"]): cell_key(s) for s in specs}
    assert flow.near[key["[8]", "uniform"]] == set()  # its check reads it alone
    assert flow.near[key["[8]", "zeros"]] == {key["[16]", "zeros"]}  # one check over both zero cells
    in_8 = {s["run_id"] for s in specs if s["axes"]["model.hidden"] == "[8]"}
    assert flow.due(in_8) == {1: [key["[8]", "uniform"]]}  # the [8] zero cell waits for the [16] one
    assert sorted(flow.due({s["run_id"] for s in specs})[1]) == sorted(key.values())
    assert flow.due(set()) == {}


def test_a_cell_is_judged_on_its_neighbours_seeds_after_the_round_before():
    _, specs = sweep.plan(GRID, [])
    flow = OverlappedRounds(claims(0.5, 0.5), ["model.hidden", "data.subset", "weights", "seed"], specs, 10)
    ahead = flow.cells[cell_key(specs[0])]
    extra = {**specs[0], "run_id": "extra"}  # its round 1, decided before a neighbour's
    ahead.specs.append(extra)
    ahead.after.append(len(ahead.specs))
    assert flow.state_after(0)[1] == {s["run_id"] for s in specs}
    assert flow.state_after(1)[1] == {s["run_id"] for s in specs} | {"extra"}
    assert flow.state_after(5)[1] == flow.state_after(1)[1]  # a cell stands for its seeds in later rounds


@pytest.fixture(scope="module")
def thresholds(tmp_path_factory):
    """Each uniform cell's lowest test accuracy over the grid's seeds: the three pass, so the cell goes to the
    design's next look (6 seeds), where on this data some of seeds 3-5 fall below it: a second round."""
    sweep_dir, _ = sweep.run(
        sweep.SweepRequest(GRID, [], tmp_path_factory.mktemp("calibrate"), adaptive=None), LOKY, progress=False
    )
    runs = results.read_results(sweep_dir)
    low = runs[runs["weights"] == "uniform"].groupby("model.hidden")["test_acc"].min()
    return float(low["[8]"]), float(low["[16]"])


@pytest.fixture(scope="module")
def claims_path(tmp_path_factory, thresholds):
    path = tmp_path_factory.mktemp("claims") / "claims.yaml"
    path.write_text(yaml.safe_dump(claims(*thresholds)))
    return path


def adaptive_sweep(out, claims_path, overlap: bool, backend: str = "loky") -> tuple:
    adaptive = {"enabled": True, "max_seeds": 10, "claims": str(claims_path), "overlap": overlap}
    sweep_dir, _ = sweep.run(
        sweep.SweepRequest(GRID, [], out, adaptive=adaptive), LOKY | {"backend": backend}, progress=False
    )
    return results.read_results(sweep_dir), results.read_sweep(sweep_dir)


@pytest.fixture(scope="module")
def strict(tmp_path_factory, claims_path):
    return adaptive_sweep(tmp_path_factory.mktemp("strict"), claims_path, overlap=False)


@pytest.mark.parametrize("backend", ["loky", "dask"])
def test_overlapped_rounds_decide_as_strict_rounds(tmp_path, claims_path, strict, backend):
    (strict, strict_record), (overlapped, overlapped_record) = (
        strict,
        adaptive_sweep(tmp_path, claims_path, True, backend),
    )
    cells = ["model.hidden", "weights"]
    seeds = strict.groupby(cells)["seed"].apply(sorted).to_dict()
    assert seeds == overlapped.groupby(cells)["seed"].apply(sorted).to_dict()
    assert len(seeds["[8]", "uniform"]) > 6 or len(seeds["[16]", "uniform"]) > 6  # two rounds at least
    assert seeds["[8]", "zeros"] == [0, 1, 2]
    same_bits = strict.set_index("run_id")["test_acc"].to_dict()
    assert same_bits == overlapped.set_index("run_id")["test_acc"].to_dict()  # each cell's round: one stack

    def rounds(record: dict) -> list:
        return [r | {"cells": sorted(json.dumps(c, sort_keys=True) for c in r["cells"])} for r in record["rounds"]]

    assert len(strict_record["rounds"]) >= 2
    assert rounds(strict_record) == rounds(overlapped_record)
    assert strict_record["adaptive"]["stopped"] == overlapped_record["adaptive"]["stopped"]
    assert overlapped_record["adaptive"]["overlap"] and not strict_record["adaptive"]["overlap"]


def test_a_cell_that_went_on_foresees_what_its_pass_counts_suggest_the_others_the_settled_mean():
    _, specs = sweep.plan(GRID, [])
    flow = OverlappedRounds(claims(0.5, 0.5), ["model.hidden", "data.subset", "weights", "seed"], specs, 10)
    assert [(n, k) for _, n, k in flow.forecast()] == [(3.5, 1.0)] * 4  # halfway from 3 to 10 seeds, in a round
    added, settled = (flow.cells[k] for k in sorted({cell_key(s) for s in specs})[:2])
    added.specs, added.after, added.evidence = added.specs * 2, [3, 6], [(3, 3), (2, 3)]  # went on to 6 seeds
    prior = pass_rate_prior(((2, 3), (3, 3)))
    sure, unsure = seeds_to_come(3, 3, flow.test, prior), seeds_to_come(2, 3, flow.test, prior)
    assert 0 < sure.seeds < unsure.seeds  # 2 of 3: 3 of 3 more makes 5 of 6, which goes on to 10
    settled.after, settled.added = [3, 3], False  # decided, added nothing, nothing changed since
    key = cell_key(settled.specs[0])
    settled.judged_on = flow.counts([key, *flow.near[key]])
    foreseen = {cell_key(s): (n, k) for s, n, k in flow.forecast()}
    assert key not in foreseen and foreseen.pop(cell_key(added.specs[0])) == pytest.approx(tuple(unsure))
    assert [n for n, _ in foreseen.values()] == pytest.approx([(2 * 6.5 + 3) / 3 - 3] * 2)  # the settled mean
    assert [k for _, k in foreseen.values()] == [1.0, 1.0]


def test_the_eta_counts_the_runs_foreseen():
    class Clock:
        now = 0.0

        def __call__(self) -> float:
            return self.now

    clock = Clock()
    config = {"model": {"hidden": [10]}, "data": {"subset": 1000, "scaling": "unit"}, "train": {"iterations": 10}}
    run = {"run_id": "a", "config": config}
    bar = Progress([run], set(), Display(False, "t"), clock=clock)
    bar.PASS_UNITS = 0.0
    bar.plan([["a"]], workers=1)
    clock.now = 11.0
    bar.moving({"a": (0.5, 0.5, 1.0)})  # started at 10 (its first report a second in): half of it in 1 s
    assert bar.estimate() == pytest.approx(1.0)
    bar.foresee([(run, 3, 1.0)])  # three more runs of its cell: 2 s each
    assert bar.estimate() == pytest.approx(7.0)
    bar.PASS_UNITS = 1.0  # a round's passes over the data: a unit per sample read, 10,000 units at 2 s per 100,000
    for rounds in (1.0, 0.25):  # the same runs, in a round for sure, or a quarter of the time
        bar.foresee([(run, 3, rounds)])
        assert bar.estimate() == pytest.approx(7.0 + rounds * 0.2)
