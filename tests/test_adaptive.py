"""Adaptive seeds on a tiny real grid: extra seeds go only where a check is undecided, stop at
max_seeds, and an interrupted round resumes without redoing finished runs."""

import shutil

import pandas as pd
import pytest
import yaml

from nnscratch import results
from nnscratch.claims import design, evaluate
from nnscratch.config.checks import ConfigError
from nnscratch.paths import CONF_DIR
from nnscratch.report.sentences import reason_sentence
from nnscratch.run import adaptive, sweep

LOKY = {"backend": "loky", "n_jobs": 2, "scheduler": None, "stack_rows": 256}
GRID = {
    "name": "noisy",
    "axes": {
        "model": {"hidden": [[8]]},
        "data": {"subset": [500]},
        "weights": ["uniform", "zeros"],  # zero init has no randomness: every seed gives the same run
        "train": {"iterations": [20], "eval_every": [10]},
        "seed": [0, 1, 2],
    },
}


def claims_file(path, value: float):
    """One check over both cells: the uniform cell sits on the threshold, the zeros cell far below it (and
    the file declares it seed-independent, so its equal seeds decide it)."""
    check = {"what": "test accuracy reaches the value", "kind": "threshold", "select": {}, "measure": "test_acc"}
    check |= {"seed_independent": {"weights": "zeros"}}  # zero weights, zero biases: declared, then confirmed
    claim = {"id": "noisy", "title": "A noisy claim", "checks": [check | {"value": value}]}
    path.write_text(yaml.safe_dump({"confidence": 0.95, "claims": [claim]}))
    return path


def sweep_with(tmp_path, seeds, adaptive=None, resume=None):
    grid = {**GRID, "axes": {**GRID["axes"], "seed": seeds}}
    return sweep.run(
        sweep.SweepRequest(grid, [], tmp_path / "out", resume=resume, adaptive=adaptive), LOKY, progress=False
    )


@pytest.fixture(scope="module")
def threshold(tmp_path_factory):
    """The uniform cell's mean test accuracy over seeds 0-4: the check stays undecided at 5 seeds."""
    sweep_dir, _ = sweep_with(tmp_path_factory.mktemp("calibrate"), [0, 1, 2, 3, 4])
    runs = results.read_results(sweep_dir)
    return float(runs.loc[runs["weights"] == "uniform", "test_acc"].mean())


def test_seeds_are_added_only_to_the_undecided_cell_and_stop_at_max_seeds(tmp_path, threshold):
    adaptive = {"enabled": True, "max_seeds": 5, "claims": str(claims_file(tmp_path / "claims.yaml", threshold))}
    sweep_dir, counts = sweep_with(tmp_path, [0, 1, 2], adaptive)
    runs = results.read_results(sweep_dir)
    seeds = runs.groupby("weights")["seed"].apply(sorted).to_dict()
    assert seeds == {"uniform": [0, 1, 2, 3, 4], "zeros": [0, 1, 2]}
    assert counts["finished"] == 8
    record = results.read_sweep(sweep_dir)
    first = record["rounds"][0]
    assert first["verdicts_before"] == {"noisy": "inconclusive"} and first["cells"][0]["seeds"] == [3, 4]
    assert first["cells"][0]["cell"]["weights"] == "uniform" and "undecided" in first["cells"][0]["reason"]
    assert len(record["rounds"]) == 1 and "max_seeds = 5" in record["adaptive"]["stopped"]
    recorded = record["adaptive"]["design"]  # the exact design, recorded before the first seed ran
    assert recorded["looks"] == [3, 6, 10] and recorded["holds_at_passes"] == {"6": 6, "10": 9}
    added = {r["run_id"] for r in first["cells"][0]["runs"]}
    assert added == set(runs.loc[runs["seed"] >= 3, "run_id"])
    assert all(c.startswith("python -m experiments.train") for c in runs["command"])  # reproducible alone


def test_an_interrupted_round_resumes_without_redoing_finished_runs(tmp_path, threshold):
    adaptive = {"enabled": True, "max_seeds": 5, "claims": str(claims_file(tmp_path / "claims.yaml", threshold))}
    sweep_dir, _ = sweep_with(tmp_path, [0, 1, 2], adaptive)
    record = results.read_sweep(sweep_dir)
    lost = record["rounds"][0]["cells"][0]["runs"][1]["run_id"]
    # as if Ctrl-C came mid-round: one added run has no record, the round is recorded, nothing after it
    shutil.rmtree(sweep_dir / "runs" / lost)
    del record["rounds"][0]["verdicts_after"], record["adaptive"]["stopped"]
    results.write_json(sweep_dir / "sweep.json", record)
    before = {d.name: (d / "metrics.json").stat().st_mtime_ns for d in results.run_dirs(sweep_dir)}
    _, counts = sweep_with(tmp_path, [0, 1, 2], adaptive, resume=sweep_dir)
    assert counts["finished"] == 1
    after = {d.name: (d / "metrics.json").stat().st_mtime_ns for d in results.run_dirs(sweep_dir)}
    assert set(after) == set(before) | {lost} and all(after[r] == t for r, t in before.items())
    assert len(results.read_sweep(sweep_dir)["rounds"]) == 1


def test_resume_refuses_a_changed_claims_file_and_bad_settings_are_named(tmp_path, threshold):
    path = claims_file(tmp_path / "claims.yaml", threshold)
    adaptive = {"enabled": True, "max_seeds": 3, "claims": str(path)}
    sweep_dir, _ = sweep_with(tmp_path, [0, 1, 2], adaptive)
    claims_file(path, threshold + 0.01)
    with pytest.raises(ConfigError, match="claims file .* changed"):
        sweep_with(tmp_path, [0, 1, 2], adaptive, resume=sweep_dir)
    with pytest.raises(ConfigError, match="claims file .* changed"):  # a plain resume goes on with the rounds too
        sweep_with(tmp_path, [0, 1, 2], None, resume=sweep_dir)
    with pytest.raises(ConfigError, match="adaptive.max_seeds"):
        sweep_with(tmp_path, [0, 1, 2], adaptive | {"max_seeds": 1})
    with pytest.raises(ConfigError, match="adaptive.max_seeds: 21 is beyond the sequential design"):
        sweep_with(tmp_path, [0, 1, 2], adaptive | {"max_seeds": 21})  # so a resume cannot add looks either
    with pytest.raises(ConfigError, match="adaptive.claims"):
        sweep_with(tmp_path, [0, 1, 2], adaptive | {"claims": str(tmp_path / "none.yaml")})


def test_the_default_claims_file_parses_with_its_confidence():
    assert yaml.safe_load((CONF_DIR / "claims.yaml").read_text())["confidence"] == 0.95


def test_a_cell_stopped_for_futility_gets_no_seeds_and_says_why():
    """wanted_cells on evaluated claims (no sweep): at a loose futility stop the cell with 1 of 3 passing gets
    no seeds and its verdict says "stopped for futility"; without the stop it jumps to the look at 10, and
    with a stop that does not fire it goes one look at a time (to 6)."""
    runs = pd.DataFrame(
        [
            {"run_id": f"u-{s}", "weights": "uniform", "seed": s, "status": "finished", "test_acc": a}
            for s, a in enumerate([0.6, 0.4, 0.4])
        ]  # fmt: skip
    )
    specs = [{"run_id": r, "axes": {"weights": "uniform", "seed": s}} for r, s in zip(runs["run_id"], runs["seed"])]
    check = {"what": "at least 0.5", "kind": "threshold", "select": {}, "measure": "test_acc", "value": 0.5}

    def targets(futility):
        claims = {"sequential": {"futility": futility}, "claims": [{"id": "c", "title": "c", "checks": [check]}]}
        found = evaluate(claims, runs, pd.DataFrame(columns=["run_id", "iteration"]), ["weights", "seed"])
        test = design(claims)
        cells = adaptive.wanted_cells(found, specs, 10, test.looks, test.futility is not None)
        return [c.target for c in cells.values()], found[0].checks[0]

    stopped, result = targets({"below": 0.6})  # 1 of 3: even a 1.4-sd effect fails it by 10 with chance 0.55
    assert stopped == [] and "stopped for futility at 3 seeds: 1 of 3 pass" in result.reason
    assert "stopped for futility" in reason_sentence(result, check)  # the report's sentence says it too
    assert targets(None)[0] == [10] and targets({"below": 0.1})[0] == [6]
