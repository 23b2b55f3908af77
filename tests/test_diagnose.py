"""Diagnoses on real MNIST: each run built to show one failure mode shows it as its headline, a
well-trained run shows none, and a sweep folder is diagnosed again exactly as its runs were."""

import json
from functools import cache

import pandas as pd
import pytest
import yaml

from nnscratch import datasets, diagnose, results
from nnscratch.config.compose import compose_run
from nnscratch.paths import CONF_DIR
from nnscratch.report import write_report
from nnscratch.run import sweep
from nnscratch.run.prepared import prepare_with
from nnscratch.train import train

SMALL = ["data.subset=1000", "train.iterations=100", "train.eval_every=10"]


@cache
def mnist_once():
    return datasets.load(datasets.data_config("mnist"), allow_download=False)


def diagnosed(*overrides: str) -> tuple[list[diagnose.Diagnosis], dict]:
    """Train the log's reference run, shrunk and changed by `overrides`; its diagnoses and features."""
    cfg, _ = compose_run([*SMALL, *overrides])
    run = train(cfg, prepare_with(mnist_once(), cfg))
    return diagnose.diagnose(run.history, run.metrics, cfg), diagnose.features(run.history, run.metrics, cfg)


def records(df: pd.DataFrame) -> dict:
    """{run_id: {column: value}} with missing values (NaN from a csv, None in memory) as None."""
    return df.astype(object).where(df.notna(), None).to_dict("index")


def names(diagnoses: list[diagnose.Diagnosis]) -> list[str]:
    return [d.name for d in diagnoses]


def test_unscaled_pixels_show_input_scale_and_units_dying_in_the_first_steps():
    found, f = diagnosed("data.scaling=none", "train.iterations=50")
    assert names(found)[0] == "input scale"
    assert f["pre_abs_0"] > 100 and f["dead_0"] < 0.5 <= f["dead_by_8"]
    assert f"iteration 0 is {f['pre_abs_seen']:.0f}" in found[0].evidence and found[0].override == "data.scaling=unit"


def test_an_unscaled_run_that_learns_a_little_and_loses_no_unit_still_shows_input_scale():
    """Adam's steps keep the units alive on raw pixels, and this seed ends just above the collapse level
    (0.239 against 0.2135): before the `above_collapse_pts` clause it was headlined `healthy`."""
    found, f = diagnosed("data.scaling=none", "optimizer=adam", "train.lr=0.001", "seed=1", "train.iterations=200")
    assert f["outcome"] == "ok" and f["dead_by_8"] == 0 and 0 < f["above_collapse_pts"] < 10
    assert names(found)[0] == "input scale" and "healthy" not in names(found)
    assert f"points from the collapse level {f['collapse_acc']:.3f}" in found[0].evidence


def test_zero_weights_and_biases_name_the_zero_start_with_no_signal_as_its_symptom():
    found, f = diagnosed("weights=zeros", "train.iterations=30")
    assert names(found)[0] == "zero start" and {"no signal", "symmetry"} <= set(names(found))
    assert f["zero_0"] == f["zero_final"] == 1.0 and f["zero_start"] == 1
    assert found[0].evidence.startswith("W1 starts at all zeros") and "100% of their activations" in found[0].evidence


def test_zero_weights_with_random_biases_show_symmetry_not_no_signal():
    found, f = diagnosed("weights=zeros", "biases=normal", "model.hidden=[32]")
    assert names(found)[0] == "symmetry" and "no signal" not in names(found)
    assert f["distinct"] == 32 and f["rank"] <= 16  # distinct rows, but scaled copies of few directions


def test_large_random_biases_show_dead_units():
    found, f = diagnosed("biases=normal", "biases.std=20", "model.hidden=[64]")
    assert names(found)[0] == "dead units"
    assert f["dead_0"] >= 0.25 and f["pre_abs_0"] < 50


def test_a_huge_step_that_diverges_names_the_step_with_the_divergence_as_its_symptom():
    found, f = diagnosed("activation=leaky_relu", "weights=normal", "train.lr=50", "train.iterations=30")
    assert names(found) == ["step too large", "divergence"]
    assert f"the loss rose {f['loss_jump']:.1f}× at iteration 1 " in found[0].evidence and f["loss_jump"] > 1.5
    assert "learning rate 50" in found[0].evidence and "became inf/NaN" in found[0].evidence
    assert found[0].override == "train.lr=5"


def test_a_huge_step_on_scaled_pixels_is_the_cause_and_the_dead_units_its_symptom():
    """lr 50 on the log's net: the loss rises at iteration 1 and every unit is dead within a few steps;
    before the step's rule the headline was the symptom, `dead units` (try leaky ReLU, which diverges)."""
    found, f = diagnosed("train.lr=50", "train.iterations=30")
    assert names(found) == ["step too large", "dead units"] and f["loss_jump"] >= 1.5 and f["dead_start"] == 0
    assert found[0].evidence.startswith(f"the loss rose {f['loss_jump']:.1f}× at iteration 1 ")
    assert "every unit was dead by iteration" in found[0].evidence


def test_a_step_that_only_blows_up_the_pre_activations_is_still_named():
    """lr 5: the loss falls, but mean |Z1| grows several-fold in the first steps and the units die."""
    found, f = diagnosed("train.lr=5")
    assert f["loss_jump"] < 1.5 <= 3 <= f["pre_growth"]
    assert names(found)[0] == "step too large"
    assert found[0].evidence.startswith(f"mean |Z1| grew {f['pre_growth']:.1f}×")


def test_tanh_with_large_weights_shows_saturation():
    found, f = diagnosed("activation=tanh", "weights=normal", "train.iterations=30")
    assert names(found)[0] == "saturation" and f["saturated_final"] >= 0.5


def test_a_short_run_still_climbing_is_undertrained():
    found, f = diagnosed()
    assert names(found) == ["undertrained"] and f["test_climb_pts"] >= 1
    assert found[0].override == "train.iterations=600"


def test_memorizing_a_small_subset_shows_overfitting():
    found, f = diagnosed(
        "data.subset=300", "model.hidden=[64]", "weights=he", "optimizer=adam", "train.lr=0.01", "train.iterations=200"
    )
    assert names(found) == ["overfitting"] and f["train_acc"] == 1.0 and f["gap_pts"] >= 5


def test_a_well_trained_run_is_healthy_and_shows_no_failure():
    found, f = diagnosed(
        "data.subset=10000", "model.hidden=[16]", "weights=he", "optimizer=adam", "train.lr=0.01", "train.iterations=60"
    )
    assert names(found) == ["healthy"] and f["test_acc"] > 0.85


def test_a_missing_feature_fails_its_clause_and_an_unknown_op_is_refused(tmp_path):
    assert not diagnose.holds({"feature": "dead_0", "op": ">=", "value": 0.25}, {"dead_0": float("nan")})
    assert not diagnose.holds({"feature": "absent", "op": "<", "value": 1}, {})
    bad = tmp_path / "diagnoses.yaml"
    bad.write_text(yaml.safe_dump({"modes": [{"name": "x", "all": [{"feature": "gap_pts", "op": "=>", "value": 1}]}]}))
    with pytest.raises(diagnose.ModesError, match="unknown op '=>'"):
        diagnose.load_modes(bad)


def test_a_sweep_folder_is_diagnosed_again_exactly_as_its_runs_were(tmp_path):
    grid = {
        "name": "diag",
        "axes": {
            "model": {"hidden": [[8]]},
            "data": {"subset": [500], "scaling": ["unit", "none"]},
            "train": {"iterations": [40], "eval_every": [10]},
            "seed": [0],
        },
    }
    parallel = {"backend": "loky", "n_jobs": 1, "scheduler": None}
    sweep_dir, _ = sweep.run(
        sweep.SweepRequest(grid, [], tmp_path / "out", conf_dir=CONF_DIR), parallel, progress=False
    )
    recorded = results.read_results(sweep_dir).set_index("run_id")
    configs = {d.name: json.loads((d / "config.json").read_text())["config"] for d in results.run_dirs(sweep_dir)}
    runs = results.read_results(sweep_dir)
    again = diagnose.diagnose_histories(runs, results.read_histories(sweep_dir), configs).set_index("run_id")
    cols = ["diagnosis", "diagnoses", "diagnosis_evidence", "diagnosis_fix"]
    assert set(recorded.loc[recorded["data.scaling"] == "none", "diagnosis"]) == {"input scale"}
    assert records(again[cols]) == records(recorded[cols])
    for d in results.run_dirs(sweep_dir):
        metrics = json.loads((d / "metrics.json").read_text())
        assert diagnose.summary(diagnose.diagnose_folder(d)) == {c: metrics[c] for c in cols}
    report = write_report([sweep_dir]).with_suffix(".md").read_text()
    section = report[report.index("## Why runs failed") :]
    assert "| input scale " in section and "(runs/" in section  # the diagnosis row links its runs' folders


def test_each_grid_run_gets_the_first_cause_its_config_matches():
    from benchmarks.diagnosis_causes import CAUSES, cause_of

    causes = yaml.safe_load(CAUSES.read_text())["causes"]
    base, _ = compose_run([])
    zeros, _ = compose_run(["weights=zeros", "data.scaling=none"])
    full, _ = compose_run(["data.subset=60000"])
    assert cause_of(base, causes)["expected"] == ["healthy"]
    assert cause_of(zeros, causes)["cause"] == "zero weights, zero biases"  # before "unscaled pixels"
    assert cause_of(full, causes)["expected"] == ["undertrained"]


def test_zero_weights_hide_the_input_scale_at_iteration_0_but_not_in_the_first_steps():
    """Z1 = b1 at iteration 0 whatever the pixels; the first updates (proportional to the pixels) show them."""
    found, f = diagnosed("weights=zeros", "biases=normal", "data.scaling=none", "train.iterations=30")
    assert f["pre_abs_0"] < 50 < f["pre_abs_seen"] and f["pre_abs_iter"] > 0
    assert names(found)[:2] == ["input scale", "zero start"] and "symmetry" in names(found)
    scaled, g = diagnosed("weights=zeros", "biases=normal", "train.iterations=30")
    assert g["pre_abs_seen"] < 50 and "input scale" not in names(scaled)
