"""Fixes tried on failed runs (nnscratch.run.repair), on real MNIST shrunk to 1,000 images: a repair
that works, one that trades one failure for the next, one that exhausts its list, a sweep's, and the
original records untouched."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from nnscratch import results
from nnscratch.config.checks import ConfigError
from nnscratch.config.compose import compose_run
from nnscratch.config.grid import single_spec
from nnscratch.paths import CONF_DIR
from nnscratch.report import write_report
from nnscratch.run import repair, sweep
from nnscratch.run.repair_bar import Bar, load_bar, reference_overrides, within
from nnscratch.run.repair_budget import Budget, shortcut
from nnscratch.run.task import run_single

SMALL = ["data.subset=1000", "train.iterations=100", "train.eval_every=20"]


def trained(folder: Path, *overrides: str) -> Path:
    """A run of the log's net, shrunk and changed by `overrides`, written to `folder` as experiments.train does."""
    args = [*SMALL, *overrides]
    config, _ = compose_run(args)
    run_single(single_spec(config, args), folder)
    return folder


def digests(folder: Path) -> dict[str, str]:
    """Every file directly in a run folder, hashed."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


def test_a_huge_step_is_repaired_by_a_smaller_rate_and_the_run_is_left_as_it_was(tmp_path):
    run = trained(tmp_path / "run", "train.lr=50")
    before = digests(run)
    record = repair.repair_run(run, Budget(max_tries=4))
    assert record["diagnosis"] == record["mode"] == "step too large"
    tries = record["tries"]
    assert [t["fix"] for t in tries] == ["train.lr=5", "train.lr=0.5"]
    assert not tries[0]["healthy"] and tries[0]["outcome"] == "collapsed"
    assert tries[1]["healthy"] and tries[1]["outcome"] == "ok" and tries[1]["test_acc"] > 0.6
    assert record["repaired_by"] == "train.lr=0.5" and record["status"] == "repaired"
    assert json.loads((run / "repairs.json").read_text()) == json.loads(json.dumps(record, default=str))
    for t in tries:  # each try is a run folder of its own, on the run's seed and data
        config = results.read_run(run / "repairs" / f"{t['try']}-{t['try_run_id']}")["run"]["config"]
        assert config["seed"] == 0 and config["data"]["subset"] == 1000 and config["train"]["iterations"] == 100
    assert digests(run) == before | {"repairs.json": digests(run)["repairs.json"]}  # only repairs.json added
    reference = results.read_run(run / "repairs" / f"reference-{record['reference_id']}")
    config = reference["run"]["config"]  # the built-in default on the run's data, seed and iterations
    assert (config["train"]["lr"], config["data"]["scaling"], config["data"]["subset"], config["seed"]) == (
        0.1,
        "unit",
        1000,
        0,
    )
    assert record["reference_acc"] == reference["metrics"]["test_acc"] and record["bar_pts"] == 1
    assert tries[1]["within_bar"] and record["within_bar"]  # lr 0.5 beats the default's lr 0.1 at 100 iterations


def test_a_fix_that_trades_the_failure_for_another_is_kept_under_the_next_fix(tmp_path):
    """Unscaled pixels and zero weights: random weights end the zero start and let the raw pixels in,
    so the pixels' scale is fixed on top of the random weights, not instead of them."""
    run = trained(tmp_path / "run", "data.scaling=none", "weights=zeros")
    record = repair.repair_run(run, Budget(max_tries=4))
    tries = record["tries"]
    assert [t["fixing"] for t in tries] == ["zero start", "input scale"]
    assert tries[0]["overrides"] == "weights=he" and tries[0]["diagnosis"] == "input scale"
    assert tries[1]["overrides"] == "weights=he data.scaling=unit" and tries[1]["healthy"]
    assert record["repaired_by"] == "weights=he data.scaling=unit"


def test_a_repair_that_exhausts_its_list_or_its_budget_says_so(tmp_path):
    rules = yaml.safe_load((CONF_DIR / "diagnoses.yaml").read_text())
    zero = next(m for m in rules["modes"] if m["name"] == "zero start")
    zero["fixes"] = ["biases=normal", "train.lr=0.2"]  # neither breaks the symmetry of zero weights
    path = tmp_path / "diagnoses.yaml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    run = trained(tmp_path / "run", "weights=zeros")
    record = repair.repair_run(run, Budget(max_tries=4), rules_path=path)
    assert [t["fix"] for t in record["tries"]] == ["biases=normal", "train.lr=0.2"]
    assert not any(t["healthy"] for t in record["tries"]) and record["repaired_by"] is None
    assert record["status"] == "not repaired: no fix left"
    (run / "repairs.json").unlink()
    short = repair.repair_run(run, Budget(max_tries=1), rules_path=path)
    assert len(short["tries"]) == 1 and short["status"] == "not repaired: budget spent"


def test_a_try_that_no_longer_fails_but_is_far_below_the_healthy_reference_is_below_the_bar(tmp_path):
    rules = yaml.safe_load((CONF_DIR / "diagnoses.yaml").read_text())
    rules["repaired"] = [{"feature": "failed", "op": "==", "value": 0}]  # any run that does not fail
    for step in [m for m in rules["modes"] if m["name"] == "step too large"]:  # listed twice: two ways it shows
        step["fixes"], step["within_pts"] = ["train.lr=0.03"], 5  # a rate too small: 0.28 where the reference is 0.58
    path = tmp_path / "diagnoses.yaml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    run = trained(tmp_path / "run", "train.lr=50")
    record = repair.repair_run(run, Budget(max_tries=2), rules_path=path)
    last = record["tries"][-1]
    assert record["repaired_by"] == "train.lr=0.03" and last["outcome"] == "ok" and record["bar_pts"] == 5
    assert last["test_acc"] < record["reference_acc"] - 0.05 and not last["within_bar"] and not record["within_bar"]
    assert "below the bar (healthy reference" in repair.summary_line(record, run)


def test_the_healthy_reference_keeps_only_the_runs_data_seed_and_the_tries_iterations():
    run = ["model.hidden=[64]", "data=fashion_mnist", "data.subset=60000", "data.scaling=none", "seed=3", "train.lr=50"]
    assert reference_overrides(run, Bar(), 100) == [
        "data=fashion_mnist",
        "data.subset=60000",
        "seed=3",
        "train.iterations=100",
    ]
    assert reference_overrides([*run, "train.iterations=900"], Bar(), None)[-1] == "train.iterations=900"


@pytest.mark.parametrize("acc,ref,pts,ok", [(0.83, 0.84, 1, True), (0.8299, 0.84, 1, False), (0.5, None, 1, False)])
def test_a_try_is_within_the_bar_at_most_the_modes_points_below_the_reference(acc, ref, pts, ok):
    assert within(acc, ref, pts) is ok


def test_a_mode_sets_its_own_bar_and_a_bad_one_names_its_key(tmp_path):
    rules = yaml.safe_load((CONF_DIR / "diagnoses.yaml").read_text())
    next(m for m in rules["modes"] if m["name"] == "zero start")["within_pts"] = 3
    path = tmp_path / "diagnoses.yaml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    bar = load_bar(path)
    assert bar.points("zero start") == 3 and bar.points("input scale") == rules["healthy_bar"]["within_pts"] == 1
    rules["healthy_bar"]["within_pts"] = "one"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    with pytest.raises(ConfigError, match="healthy_bar.within_pts"):
        load_bar(path)


def test_a_healthy_run_needs_no_repair(tmp_path):
    run = trained(tmp_path / "run", "weights=he")
    assert repair.repair_run(run, Budget()) is None and not (run / "repairs.json").exists()


def test_the_iterations_of_a_try_come_from_the_budget_unless_the_fix_sets_them():
    chain = repair.Chain("r", ["train.lr=50", "seed=3"], "step too large", "step too large", ["train.lr=5"])
    assert repair.try_overrides(chain, "train.lr=5", Budget(iterations=30)) == [
        "seed=3",
        "train.lr=5",
        "train.iterations=30",
    ]
    assert repair.try_overrides(chain, "train.iterations=900", Budget(iterations=30)) == [
        "train.lr=50",
        "seed=3",
        "train.iterations=900",
    ]


@pytest.mark.parametrize(
    "settings,key", [({"max_tries": 0}, "repair.max_tries"), ({"iterations": "many"}, "repair.iterations")]
)
def test_a_budget_that_cannot_be_used_names_its_key(settings, key):
    with pytest.raises(ConfigError, match=key):
        Budget.of(settings)


def test_repair_true_on_the_command_line_is_the_blocks_switch():
    assert shortcut(["x", "repair=true", "train.lr=5", "repair=False"]) == [
        "x",
        "repair.enabled=true",
        "train.lr=5",
        "repair.enabled=False",
    ]


def test_a_sweeps_failed_runs_are_repaired_in_a_folder_of_their_own_and_reported(tmp_path):
    grid = {
        "name": "rep",
        "axes": {
            "data": {"subset": [1000]},
            "train": {"iterations": [100], "eval_every": [20], "lr": [0.1, 50]},
            "seed": [0],
        },
    }
    parallel = {"backend": "loky", "n_jobs": 1, "scheduler": None}
    sweep_dir, _ = sweep.run(
        sweep.SweepRequest(grid, [], tmp_path / "out", conf_dir=CONF_DIR), parallel, progress=False
    )
    before = {d.name: digests(d) for d in results.run_dirs(sweep_dir)}
    csv_before = (sweep_dir / "results.csv").read_text()
    path = repair.repair_sweep(sweep_dir, parallel, Budget(max_tries=3), progress=False)
    table = pd.read_csv(path)
    failed = results.read_results(sweep_dir).query("`train.lr` == 50")["run_id"]
    assert set(table["run_id"]) == set(failed) and table["repaired"].all()
    assert list(table["result"]) == ["repaired"] * 2 and list(table["status"]) == ["finished"] * 2  # run's, try's
    assert list(table["fix"]) == ["train.lr=5", "train.lr=0.5"] and table["repaired_by"].iloc[0] == "train.lr=0.5"
    assert len(results.run_dirs(sweep_dir / "repairs")) == 3  # the tries and the reference, a sweep folder of their own
    assert {d.name: digests(d) for d in results.run_dirs(sweep_dir)} == before
    assert (sweep_dir / "results.csv").read_text() == csv_before
    report = write_report([sweep_dir]).with_suffix(".md").read_text()
    section = report[report.index("## Fixes tried on the failed runs") :]
    assert "**1 of 1 failed runs repaired (100.0 %)**" in section and "`train.lr=0.5` (1/1)" in section
    assert "**1 (100.0 %) within the healthy bar**" in section


@pytest.mark.slow
def test_train_with_repair_true_names_the_step_and_ends_with_the_fix_that_worked(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.train", "train.lr=50", "repair=true", *SMALL, f"out_dir={tmp_path / 'r'}"],
        cwd=CONF_DIR.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[1].startswith("diagnosis: step too large — the loss rose")
    assert lines[-1].startswith("repaired by train.lr=0.5: test_acc") and "outcome ok" in lines[-1]
    assert [line.split(" -> ")[0] for line in lines if line.startswith("repair: try")] == [
        "repair: try 1/4 train.lr=5",
        "repair: try 2/4 train.lr=0.5",
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    "command,key",
    [
        (["experiments.train", "repair=true", "repair.max_tries=0", "out_dir=r"], "repair.max_tries"),
        (["experiments.repair", "sweep_dir=nowhere"], "sweep_dir=nowhere"),
    ],
)
def test_a_bad_repair_setting_is_one_line_before_anything_runs(tmp_path, in_process, command, key):
    work = tmp_path / "work"  # tmp_path also holds the test's cache folder
    work.mkdir()
    proc = in_process(*command, cwd=work)
    assert proc.returncode != 0 and key in proc.stderr and "Traceback" not in proc.stderr
    assert list(work.iterdir()) == []
