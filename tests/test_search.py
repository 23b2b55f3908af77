"""config/search.py and paths.conf_file: a user's --config-dir reaches the grid's cells and the files the
sweep reads itself (claims files), the user's folder first, the package's conf/ after."""

import json
from pathlib import Path

import pytest
import yaml

from nnscratch import results
from nnscratch.config.compose import hydra_context
from nnscratch.config.search import conf_dirs, search_path_flags
from nnscratch.paths import CONF_DIR, conf_file
from nnscratch.report import claims_file_of

MY_CLAIMS = {
    "title": "My claim",
    "claims": [
        {
            "id": "tiny_learns",
            "title": "Tiny weights learn",
            "checks": [
                {"what": "above chance", "kind": "threshold", "select": {"weights": "tiny"}}
                | {"measure": "test_acc", "value": 0.2}
            ],
        }
    ],
}


@pytest.fixture
def user_dir(tmp_path) -> Path:
    """A user's folder holding only what they add: a new group (colour), a new weights option (tiny), a grid
    over both and the claims file it names. Nothing of conf/ is copied."""
    folder = tmp_path / "mine"
    for name, shade in (("red", 1), ("blue", 2)):
        (folder / "colour").mkdir(parents=True, exist_ok=True)
        (folder / "colour" / f"{name}.yaml").write_text(f"name: {name}\nshade: {shade}\n")
    (folder / "weights").mkdir()
    (folder / "weights" / "tiny.yaml").write_text("scheme: normal\nstd: 0.05\nper_layer: null\n")
    (folder / "sweep").mkdir()
    grid = {
        "name": "mine",
        "claims": "my_claims.yaml",
        "axes": {
            "model": {"hidden": [[8]]},
            "data": {"subset": [500]},
            "weights": ["uniform", "tiny"],
            "colour": ["red", "blue"],
            "train": {"iterations": [20], "eval_every": [10]},
            "seed": [0],
        },
    }
    (folder / "sweep" / "mine.yaml").write_text(yaml.safe_dump(grid, sort_keys=False))
    (folder / "my_claims.yaml").write_text(yaml.safe_dump(MY_CLAIMS, sort_keys=False))
    return folder


def test_a_sweep_given_a_config_dir_runs_its_new_group_option_and_claims_file(user_dir, tmp_path, in_process):
    out = tmp_path / "out"
    args = [f"--config-dir={user_dir}", "sweep=mine", "adaptive.enabled=false", "report=false", f"out_root={out}"]
    proc = in_process("experiments.sweep", *args, "parallel.n_jobs=1")
    assert proc.returncode == 0, proc.stderr
    (sweep_dir,) = (out / "mine").iterdir()
    df = results.read_results(sweep_dir)
    cells = [("tiny", "blue"), ("tiny", "red"), ("uniform", "blue"), ("uniform", "red")]
    assert sorted(zip(df["weights"], df["colour"])) == cells
    for run_id, weights, colour in zip(df["run_id"], df["weights"], df["colour"]):
        run = results.read_run(sweep_dir / "runs" / run_id)["run"]
        assert run["config"]["colour"] == {"name": colour, "shade": {"red": 1, "blue": 2}[colour]}
        tiny = {"scheme": "normal", "std": 0.05, "per_layer": None}
        assert (run["config"]["weights"] == tiny) == (weights == "tiny")
        assert run["config"]["weights"]["scheme"] == ("normal" if weights == "tiny" else "uniform")
        assert f"--config-dir={user_dir}" in run["command"] and f"+colour={colour}" in run["command"]
    record = json.loads((sweep_dir / "sweep.json").read_text())
    assert record["claims_file"] == str(user_dir / "my_claims.yaml")


def test_a_claims_file_nowhere_on_the_search_path_is_one_line_naming_both_folders(user_dir, tmp_path, in_process):
    out = tmp_path / "out"
    args = [f"--config-dir={user_dir}", "sweep=mine", "sweep.claims=nope.yaml", f"out_root={out}"]
    proc = in_process("experiments.sweep", *args)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        f"error: sweep 'mine': claims: no nope.yaml in {user_dir} or {CONF_DIR}; add it there"
    ]
    assert not out.exists()


def test_the_report_finds_a_sweeps_claims_file_in_the_config_dir(user_dir, tmp_path, in_process):
    folder = tmp_path / "sweep"  # a sweep that recorded no claims file, its grid naming the user's
    folder.mkdir()
    (folder / "results.csv").write_text("run_id\n")
    (folder / "sweep.json").write_text(json.dumps({"name": "mine", "axes": [], "claims": "my_claims.yaml"}))
    (user_dir / "my_claims.yaml").write_text(
        "title: mine\nconfidense: 0.9\nclaims: []\n"
    )  # a problem shows it was read
    alone = in_process("experiments.report", f"sweep_dir={folder}")
    assert alone.stderr.splitlines() == [
        f"error: claims file {CONF_DIR / 'my_claims.yaml'}: no such file; give claims=<file>, or "
        "--config-dir=<the folder holding it>"
    ]
    mine = in_process("experiments.report", f"--config-dir={user_dir}", f"sweep_dir={folder}")
    assert mine.stderr.splitlines() == [
        "error: my_claims.yaml: unknown key 'confidense' (did you mean 'confidence'?) "
        "(keys: title, confidence, sequential, collapse, subsets, anchors, claims)"
    ]
    assert sorted(p.name for p in folder.iterdir()) == ["results.csv", "sweep.json"]


def test_a_changed_copy_of_a_conf_file_in_the_config_dir_is_refused_by_name(user_dir, tmp_path, in_process):
    """Hydra reads conf/weights/uniform.yaml before the user's, and runs are diagnosed with conf/'s
    diagnoses.yaml: a changed copy of either would be ignored without a word. An unchanged copy is harmless."""
    (user_dir / "weights" / "uniform.yaml").write_text("scheme: normal\nstd: 0.05\nper_layer: null\n")
    (user_dir / "weights" / "he.yaml").write_bytes((CONF_DIR / "weights" / "he.yaml").read_bytes())
    (user_dir / "diagnoses.yaml").write_text((CONF_DIR / "diagnoses.yaml").read_text() + "# mine\n")
    out = tmp_path / "out"
    proc = in_process("experiments.sweep", f"--config-dir={user_dir}", "sweep=mine", f"out_root={out}")
    assert proc.returncode != 0 and not out.exists()
    assert proc.stderr.splitlines() == [
        f"error: sweep 'mine': {user_dir / 'diagnoses.yaml'}: not read, runs are diagnosed with "
        f"{CONF_DIR / 'diagnoses.yaml'}; edit that one or remove yours",
        f"sweep 'mine': {user_dir / 'weights' / 'uniform.yaml'}: not read, Hydra reads "
        f"{CONF_DIR / 'weights' / 'uniform.yaml'} first; give yours another name (or run on a whole copy of "
        "that folder: --config-path=<the copy>)",
    ]


def test_conf_dirs_are_hydras_search_path_or_the_given_folder(tmp_path):
    assert conf_dirs(tmp_path) == [tmp_path]  # outside Hydra: a library call's own folder
    with hydra_context(CONF_DIR):
        assert conf_dirs(tmp_path) == [CONF_DIR]


def test_a_commands_flags_name_the_folders_other_than_conf(tmp_path):
    assert search_path_flags() == []
    with hydra_context(CONF_DIR):
        assert search_path_flags() == []
    with hydra_context(tmp_path):  # a copy of conf/ given as the primary folder (--config-path)
        assert search_path_flags() == [f"--config-path={tmp_path}"]


def test_a_users_file_comes_before_the_packages_and_conf_is_the_fallback(tmp_path):
    (tmp_path / "claims.yaml").write_text("claims: []\n")
    assert conf_file("claims.yaml", [tmp_path, CONF_DIR]) == tmp_path / "claims.yaml"
    assert conf_file("claims_myinit.yaml", [tmp_path, CONF_DIR]) == CONF_DIR / "claims_myinit.yaml"
    assert conf_file("nowhere.yaml", [tmp_path, CONF_DIR]) == CONF_DIR / "nowhere.yaml"
    assert claims_file_of({"name": "x"}, [tmp_path, CONF_DIR]) == tmp_path / "claims.yaml"
    assert claims_file_of({"name": "x", "claims": "claims_myinit.yaml"}, [tmp_path, CONF_DIR]) == (
        CONF_DIR / "claims_myinit.yaml"
    )
