"""A network of one's own: checked (findings named by their place), trained like the built-in one,
its failures kept to its own runs, and run through a grid beside the built-in network."""

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from nnscratch import results
from nnscratch.config.compose import compose_run
from nnscratch.data import prepare
from nnscratch.network import Activation
from nnscratch.networks.checks import check_network
from nnscratch.networks.loading import NetworkFileError, UserCodeError, load_notebook
from nnscratch.networks.training import train_notebook
from nnscratch.paths import CONF_DIR
from nnscratch.report import write_report
from nnscratch.run import sweep
from nnscratch.train.stack import train

ROOT = CONF_DIR.parent
EXAMPLE = ROOT / "examples" / "tutorial_net.py"
VARIANTS = {v["name"]: v for v in yaml.safe_load((ROOT / "benchmarks" / "planted_bugs.yaml").read_text())}


def notebook(path: Path, **settings) -> dict:
    return {
        "name": "notebook",
        "source": str(path),
        "functions": {},
        "call_timeout": 60,
        "import_timeout": 10,
    } | settings


def planted(tmp_path: Path, name: str) -> Path:
    v = VARIANTS[name]
    path = tmp_path / "my_net.py"
    path.write_text(v.get("prepend", "") + EXAMPLE.read_text().replace(v["old"], v["new"], 1))
    return path


@pytest.fixture(scope="module")
def small(mnist):
    return prepare(mnist, 1000, "unit")


def test_the_correct_example_has_no_finding(small):
    report = check_network(load_notebook(notebook(EXAMPLE)), small, Activation("relu"))
    assert report.findings == []
    assert any("finite differences" in p for p in report.passed)


@pytest.mark.parametrize(
    "name, place, words",
    [
        ("tutorial bias sum", "backward_prop -> db1", "sums over units as well as samples"),
        ("global m", "backward_prop -> dW2", "m = 60000"),
        ("dW1 transposed", "backward_prop -> dW1", "transposed"),
        ("return inside the loop (the log's 1:48 PM)", "gradient_descent", "returned after 1 of 4"),
        ("softmax over the samples", "forward_prop -> A2", "over the samples"),
        ("update with the wrong sign", "update_params -> W1", "moves up the gradient"),
    ],
)
def test_a_planted_bug_is_named_by_its_place(tmp_path, small, name, place, words):
    report = check_network(load_notebook(notebook(planted(tmp_path, name))), small, Activation("relu"))
    lines = [f.line() for f in report.findings if f.where.startswith(place)]
    assert lines and any(words in line for line in lines), [f.line() for f in report.findings]


def test_relu_derivative_at_zero_is_not_flagged_but_noted(tmp_path, small):
    report = check_network(
        load_notebook(notebook(planted(tmp_path, "ReLU derivative Z >= 0"))), small, Activation("relu")
    )
    assert report.findings == []
    assert any("ReLU'(0) = 1" in n for n in report.notes)


def test_the_correct_example_trains_as_the_built_in_network(small):
    cfg, _ = compose_run(
        ["train.iterations=40", "train.eval_every=10", "network=notebook", f"network.source={EXAMPLE}"]
    )
    mine = train_notebook(cfg, small, load_notebook(cfg["network"]))
    theirs = train(cfg, small)
    assert [h["iteration"] for h in mine.history] == [h["iteration"] for h in theirs.history]
    for a, b in zip(mine.history, theirs.history):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
        assert abs(a["train_acc"] - b["train_acc"]) <= 0.002 and a["dead_l1"] == b["dead_l1"]
    assert mine.metrics["outcome"] == theirs.metrics["outcome"] == "ok"
    assert mine.metrics["test_acc"] == pytest.approx(theirs.metrics["test_acc"], abs=0.002)


@pytest.mark.parametrize(
    "body, message",
    [
        ("import time\ntime.sleep(30)\n", "did not finish in 2 s"),
        ("open(__file__.replace('my_net.py', 'train.csv')).read()\n", "reads"),
        ("def forwardProp(): pass\n", "did you mean forwardProp?"),
    ],
)
def test_a_file_that_trains_reads_data_or_lacks_a_function_on_import_is_refused(tmp_path, body, message):
    (tmp_path / "train.csv").write_text("label,pixel0\n")
    path = tmp_path / "my_net.py"
    path.write_text(EXAMPLE.read_text().replace("def forward_prop(", "def fwd_pass(") + body)
    t0 = time.monotonic()
    with pytest.raises(NetworkFileError, match=message.replace("?", r"\?")):
        load_notebook(notebook(path, import_timeout=2))
    assert time.monotonic() - t0 < 20


def test_a_hanging_call_is_ended_and_an_error_names_the_users_frame(tmp_path, small):
    path = tmp_path / "my_net.py"
    path.write_text(EXAMPLE.read_text() + "\ndef hang(*args):\n    while True:\n        pass\n")
    nb = load_notebook(notebook(path, call_timeout=1, functions={"forward": "hang"}))
    t0 = time.monotonic()
    with pytest.raises(UserCodeError, match="did not return within 1 s"):
        nb.call("forward", 1)
    assert time.monotonic() - t0 < 5
    bad = load_notebook(notebook(path))
    with pytest.raises(UserCodeError, match=r"my_net\.py:\d+ in forward_prop: `Z1 = W1.dot\(X\) \+ b1`"):
        bad.call("forward", np.zeros((3, 5)), np.zeros((3, 1)), np.zeros((2, 3)), np.zeros((2, 1)), np.zeros((4, 2)))


def test_the_check_command_exits_0_on_the_example_and_1_on_the_bias_bug(in_process):
    """In this process (the user's file is imported in a child process all the same)."""

    def check(name: str) -> subprocess.CompletedProcess:
        return in_process("experiments.check", "network=notebook", f"network.source=examples/{name}")

    good, bad = check("tutorial_net.py"), check("tutorial_bias_bug.py")
    assert good.returncode == 0 and "nothing found" in good.stdout, good.stdout + good.stderr
    assert bad.returncode == 1 and "FOUND gradients: backward_prop -> db1" in bad.stdout, bad.stdout + bad.stderr


@pytest.mark.slow
def test_a_grid_runs_the_users_network_beside_the_built_in_one(tmp_path):
    bug = ROOT / "examples" / "tutorial_bias_bug.py"
    grid = {
        "name": "mine",
        "axes": {
            "data": {"subset": [500], "scaling": [unit := "unit", "none"]},
            "weights": ["uniform"],
            "train": {"iterations": [20], "eval_every": [10]},
            "seed": [0],
        },
    }
    crash = tmp_path / "crash.py"
    crash.write_text(EXAMPLE.read_text().replace("    A1 = ReLU(Z1)\n", "    A1 = ReLU(Z1)\n    assert X.max() <= 1\n"))
    parallel = {"backend": "loky", "n_jobs": 2, "stack_rows": 256}
    sweep_dir, counts = sweep.run(
        sweep.SweepRequest(grid, ["network=notebook", f"network.source={bug}"], tmp_path), parallel, progress=False
    )
    runs = results.read_results(sweep_dir)
    assert sorted(runs["network"]) == ["builtin", "builtin", "notebook", "notebook"]
    assert counts["finished"] == 4
    check = results.read_json(sweep_dir / "network_check.json")
    assert any("db1" in f for f in check["findings"])
    report = write_report([sweep_dir]).with_suffix(".md").read_text()
    assert "Your network against the built-in one" in report and unit in report
    # a user's exception is that run's failure, with the user's own frame; the sweep and the built-in runs go on
    sweep_dir, counts = sweep.run(
        sweep.SweepRequest(grid, ["network=notebook", f"network.source={crash}"], tmp_path), parallel, progress=False
    )
    runs = results.read_results(sweep_dir).set_index(["network", "data.scaling"])
    assert runs.loc[("notebook", "none"), "status"] == "failed"
    assert (
        "crash.py" in runs.loc[("notebook", "none"), "error"]
        and "assert X.max() <= 1" in runs.loc[("notebook", "none"), "error"]
    )
    assert (runs.loc[("builtin", "none"), "status"], runs.loc[("notebook", "unit"), "status"]) == (
        "finished",
        "finished",
    )
