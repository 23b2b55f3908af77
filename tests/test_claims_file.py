"""A claims file is typed before any run (nnscratch.config.claims_file): a misspelled key, a check of an
unknown kind, or a title an unquoted comma cut in two is one line naming the claim and the fix."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nnscratch.config.checks import ConfigError
from nnscratch.config.claims_file import claims_problems
from nnscratch.paths import CONF_DIR
from nnscratch.run import sweep

GRID = {"name": "tiny", "axes": {"data.subset": [300], "train.iterations": [5], "seed": [0]}}


def claims_with(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "claims.yaml"
    path.write_text(text)
    return path


CHECK = "{what: learns, kind: threshold, select: {weights: uniform}, measure: test_acc, op: '>', value: collapse}"


@pytest.mark.parametrize("path", sorted(CONF_DIR.glob("claims*.yaml")), ids=lambda p: p.name)
def test_every_shipped_claims_file_has_no_problem(path):
    assert claims_problems(path) == []


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        ("{id: a, title: t, checks: [{what: w, kind: threshold, select: {}, measur: test_acc, value: 0.5}]}",
         "claims[0] (a) checks[0]: unknown key 'measur' (did you mean 'measure'?)"),
        ("{id: a, title: t, checks: [{what: w, kind: treshold, select: {}, measure: test_acc, value: 0.5}]}",
         "claims[0] (a) checks[0].kind: unknown kind 'treshold' (did you mean 'threshold'?)"),
        ("{id: a, title: t, checks: [{what: w, kind: contrast, a: {}, measure: test_acc, value: 0.5}]}",
         "claims[0] (a) checks[0]: a contrast check needs 'b'"),
        ("{id: a, title: t, checks: [{what: w, kind: reach, select: {}, measure: test_acc, value: 0.5, within: x}]}",
         "claims[0] (a) checks[0].within: must be a whole number or null, got 'x'"),
        ("{id: a, title: Hidden 10 on 60,000 images, checks: [" + CHECK + "]}",
         "claims[0] (a): '000 images' is the end of a value an unquoted comma cut off; quote that value"),
    ],
)  # fmt: skip
def test_a_mistake_in_a_claim_is_one_line_naming_it(tmp_path, claim, expected):
    path = claims_with(tmp_path, f"title: mine\nclaims:\n  - {claim}\n")
    (line,) = claims_problems(path)
    assert line.startswith("claims.yaml: ") and expected in line, line


def test_a_file_level_key_and_a_repeated_id_are_refused(tmp_path):
    text = f"title: mine\nconfidense: 0.9\nclaims:\n  - {{id: a, title: t, checks: [{CHECK}]}}\n"
    text += f"  - {{id: a, title: u, checks: [{CHECK}]}}\n"
    problems = claims_problems(claims_with(tmp_path, text))
    assert problems == [
        "claims.yaml: unknown key 'confidense' (did you mean 'confidence'?) "
        "(keys: title, confidence, sequential, collapse, subsets, anchors, claims)",
        "claims.yaml: claims[1] (a): id 'a' is used twice; give each claim its own id",
    ]


def test_a_sweep_with_a_misspelled_claims_file_stops_before_any_work(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf)
    claims = yaml.safe_load((conf / "claims.yaml").read_text())
    claims["claims"][0]["checks"][0]["measur"] = claims["claims"][0]["checks"][0].pop("measure")
    (conf / "claims.yaml").write_text(yaml.safe_dump(claims, sort_keys=False))
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=r"claims\[0\] \(unscaled\) checks\[0\]: unknown key 'measur'"):
        sweep.run(sweep.SweepRequest(GRID, [], out, conf_dir=conf), {"backend": "loky", "n_jobs": 1}, progress=False)
    assert not out.exists()  # nothing written


def test_the_report_refuses_a_claims_file_with_a_problem_in_one_line_and_writes_nothing(tmp_path):
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / "results.csv").write_text("run_id\n")
    (folder / "sweep.json").write_text('{"name": "tiny", "axes": []}')
    bad = claims_with(tmp_path, f"title: mine\nclaims:\n  - {{id: a, title: t, chekcs: [{CHECK}]}}\n")
    done = subprocess.run(
        [sys.executable, "-m", "experiments.report", f"sweep_dir={folder}", f"claims={bad}"],
        cwd=CONF_DIR.parent,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and done.stderr.count("error:") == 1, done.stderr
    assert "claims[0] (a): unknown key 'chekcs' (did you mean 'checks'?)" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and sorted(p.name for p in folder.iterdir()) == ["results.csv", "sweep.json"]


SHIPPED_FUTILITY = "futility: {below: 0.1, effect: 1.4}"


@pytest.mark.parametrize(
    ("sequential", "line"),
    [
        ("futility: {belwo: 0.1, effect: 1.4}",
         "claims.yaml.sequential.futility: unknown key 'belwo' (did you mean 'below'?) (keys: below, effect)"),
        ("futility: {below: 0.1, efect: 2}",
         "claims.yaml.sequential.futility: unknown key 'efect' (did you mean 'effect'?) (keys: below, effect)"),
        ("futility: {below: x}", "claims.yaml.sequential.futility.below: must be a number or null, got 'x'"),
        ("futility: {below: 2}", "claims.yaml.sequential.futility.below: must be a chance between 0 and 1, got 2.0"),
        ("futility: {effect: 0}", "claims.yaml.sequential.futility.effect: must be a positive number of sds, got 0.0"),
        ("futility: soon", "claims.yaml.sequential.futility: must be {below: 0.1, effect: 1.4}, a chance such as "
         "0.1, or null; got 'soon'"),
        ("spending: {pwer: 0.5}",
         "claims.yaml.sequential.spending: unknown key 'pwer' (did you mean 'power'?) (keys: power)"),
        ("spending: obrien", "claims.yaml.sequential.spending: unknown 'obrien' (did you mean 'obrien_fleming'?) "
         "(allowed: pocock, obrien_fleming, {power: 0.5})"),
    ],
)  # fmt: skip
def test_a_mistake_in_the_futility_stop_or_the_spending_is_one_line_naming_it(tmp_path, sequential, line):
    text = (CONF_DIR / "claims.yaml").read_text()
    key = sequential.split(":")[0]
    shipped = SHIPPED_FUTILITY if key == "futility" else "spending: {power: 0.5}"
    assert shipped in text
    assert claims_problems(claims_with(tmp_path, text.replace(shipped, sequential, 1))) == [line]


@pytest.mark.parametrize("futility", ["futility: 0.1", "futility: null", "futility: {below: 0.2}"])
def test_a_bare_chance_null_or_a_partial_futility_stop_is_accepted(tmp_path, futility):
    text = (CONF_DIR / "claims.yaml").read_text().replace(SHIPPED_FUTILITY, futility, 1)
    assert claims_problems(claims_with(tmp_path, text)) == []


def test_an_adaptive_sweep_refuses_a_misspelled_futility_stop_in_one_line_before_any_work(tmp_path):
    text = (CONF_DIR / "claims.yaml").read_text().replace(SHIPPED_FUTILITY, "futility: {belwo: 0.1}", 1)
    path = claims_with(tmp_path, text)
    grid = GRID | {"axes": GRID["axes"] | {"seed": [0, 1]}}
    adaptive = {"enabled": True, "max_seeds": 10, "claims": str(path)}
    out = tmp_path / "out"
    with pytest.raises(ConfigError) as refused:
        sweep.run(
            sweep.SweepRequest(grid, [], out, adaptive=adaptive), {"backend": "loky", "n_jobs": 1}, progress=False
        )
    assert str(refused.value) == (
        "claims.yaml.sequential.futility: unknown key 'belwo' (did you mean 'below'?) (keys: below, effect)"
    )
    assert not out.exists()
