"""The floor arithmetic of benchmarks.sweep_floor on a synthetic record set whose FLOPs are known."""

import json

import pandas as pd
import pytest

from benchmarks import sweep_floor as sf

INPUTS = {"a": 100, "b": 50}


def records() -> pd.DataFrame:
    """Worker w1 trains a stack of two hidden-10 runs, then one hidden-300 run half dead; worker w2 one
    run on other data. Journal times interleave the workers."""
    rows = [
        ("r1", "w1", 1.0, 2, 10, 1000, 101, 1.0, "a", 0),
        ("r2", "w1", 2.0, 2, 10, 1000, 101, 1.0, "a", 1),
        ("q1", "w2", 2.5, 1, 4, 200, 51, 0.25, "b", 0),
        ("r3", "w1", 3.0, 1, 300, 1000, 11, 0.5, "a", 0),
    ]
    cols = [
        "run_id",
        "worker",
        "written",
        "stacked_with",
        "hidden",
        "samples",
        "passes",
        "live_fraction",
        "key",
        "seed",
    ]
    table = pd.DataFrame(rows, columns=cols)
    table["model.hidden"] = table["hidden"].astype(str)
    table.attrs["axes"] = ["model.hidden", "seed"]
    return table


def test_flops_are_the_two_products_over_live_units_and_passes():
    work = sf.with_work(records(), INPUTS, stack_rows=256).set_index("run_id")
    # 4 * live units * passes * samples * inputs used
    assert work.loc["r1", "flops"] == 4 * 10 * 101 * 1000 * 100
    assert work.loc["r3", "flops"] == 4 * 150 * 11 * 1000 * 100
    assert work.loc["q1", "flops"] == 4 * 1 * 51 * 200 * 50


def test_stacks_follow_each_workers_journal_order_and_heights_are_live_rows_per_pass():
    work = sf.with_work(records(), INPUTS, stack_rows=256).set_index("run_id")
    assert work.loc["r1", "stack"] == work.loc["r2", "stack"] != work.loc["r3", "stack"]
    assert work["stack"].nunique() == 3
    assert work.loc["r1", "height"] == 20  # two runs of 10 live units, side by side
    assert work.loc["r3", "height"] == 150  # 300 units, half alive
    # at most stack_rows at a time: 1650 unit-passes in 100-row passes need 16.5 passes, more than its 11
    assert sf.with_work(records(), INPUTS, stack_rows=100).set_index("run_id").loc["r3", "height"] == 100
    assert sf.with_work(records(), INPUTS, stack_rows=None).set_index("run_id").loc["r3", "height"] == 150  # no cap


def test_floor_is_each_stacks_flops_at_its_heights_rate_on_the_cores():
    work = sf.with_work(records(), INPUTS, stack_rows=256)
    flops = work.set_index("run_id")["flops"]

    def rate(rows, inputs, samples):  # 1 GFLOP/s per row
        return rows * 1e9

    expected = (flops["r1"] + flops["r2"]) / 20e9 + flops["r3"] / 150e9 + flops["q1"] / 1e9
    assert sf.floor_seconds(work, INPUTS, rate, cores=2) == pytest.approx(expected / 2)
    assert sf.floor_seconds(work, INPUTS, rate, cores=1, height=256) == pytest.approx(flops.sum() / 256e9)


def test_a_stack_whose_mates_are_not_next_is_refused():
    table = records()
    table.loc[table["run_id"] == "r2", "key"] = "b"
    with pytest.raises(ValueError, match="r1: its 2 stack-mates"):
        sf.with_work(table, INPUTS, stack_rows=256)


def test_work_by_group_shares_add_up_and_count_cells():
    work = sf.with_work(records(), INPUTS, stack_rows=256)
    table = sf.work_by_group(work, ["model.hidden"]).set_index("model.hidden")
    assert table["share"].sum() == pytest.approx(1)
    assert table.loc["10", "runs"] == 2 and table.loc["10", "cells"] == 1 and table.loc["10", "seeds_per_cell"] == 2
    assert table.loc["300", "share"] == pytest.approx(work["flops"].iloc[3] / work["flops"].sum())


def test_bad_folder_or_axis_is_one_line_before_any_work(tmp_path, capsys):
    assert sf.main([str(tmp_path)]) == 2
    assert "no sweep.json: give the folder of a finished sweep" in capsys.readouterr().err
    for name in ("journal", "runs"):
        (tmp_path / name).mkdir()
    (tmp_path / "environment.json").write_text("{}")
    (tmp_path / "sweep.json").write_text(json.dumps({"axes": ["seed", "data.subset"]}))
    assert sf.main([str(tmp_path), "--by", "data.subsett"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--by data.subsett: not an axis of this sweep" in err


def test_a_real_sweeps_records_give_its_stacks_and_flops(tmp_path, capsys):
    """A tiny sweep (one worker, stacked): every run is found in a stack of the size it recorded, and the
    FLOPs are each run's 4 x live units x passes x samples x inputs used, from its own results."""
    from nnscratch import results
    from nnscratch.run import sweep

    grid = {
        "name": "floor",
        "axes": {
            "model": {"hidden": [[8], [4]]},
            "data": {"subset": [300]},
            "weights": ["uniform", "zeros"],
            "train": {"iterations": [6]},
            "seed": [0, 1],
        },
    }
    parallel = {"backend": "loky", "n_jobs": 1, "scheduler": None, "stack_rows": 16, "stack_tasks": 1}
    sweep_dir, _ = sweep.run(sweep.SweepRequest(grid, [], tmp_path / "out"), parallel, progress=False)
    facts, work, inputs = sf.sweep_work(sweep_dir)
    table = results.read_results(sweep_dir).set_index("run_id").loc[work["run_id"]]
    assert len(work) == 8 and facts["stack_rows"] == 16
    assert (work.groupby("stack")["run_id"].transform("size").to_numpy() == table["stacked_with"].to_numpy()).all()
    [used] = inputs.values()
    hidden = table["model.hidden"].str.strip("[]").astype(int)
    expected = 4 * hidden * table["live_fraction"] * (table["iteration"] + 1) * 300 * used
    assert work["flops"].to_numpy() == pytest.approx(expected.to_numpy())
    assert sf.main([str(sweep_dir), "--by", "weights", "--gflops", "0.001"]) == 0  # 1 MFLOP/s
    assert f"own height: {work['flops'].sum() / 1e6:.0f} s on 1 cores" in capsys.readouterr().out
