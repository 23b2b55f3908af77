"""config/diagnoses_file.py: every key of a diagnoses file typed (its healthy bar, its repaired clauses, each
mode and clause), a misspelled one named with the nearest valid key, one line each, before a repair starts."""

import pytest
import yaml

from nnscratch.config.checks import ConfigError
from nnscratch.config.diagnoses_file import diagnoses_problems
from nnscratch.paths import CONF_DIR
from nnscratch.run.repair_bar import load_bar

KEYS = "keys: name, all, any, evidence, remedy, override, measured, fixes, fallback, within_pts"


def with_change(tmp_path, change) -> str:
    """conf/diagnoses.yaml with `change` applied, written to tmp_path; its path."""
    rules = yaml.safe_load((CONF_DIR / "diagnoses.yaml").read_text())
    change(rules)
    path = tmp_path / "diagnoses.yaml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    return path


def test_the_shipped_diagnoses_file_has_no_problem():
    assert diagnoses_problems(CONF_DIR / "diagnoses.yaml") == []


@pytest.mark.parametrize(
    "change,line",
    [
        (
            lambda r: r["healthy_bar"].update(within_pt=5),
            "diagnoses.yaml.healthy_bar: unknown key 'within_pt' (did you mean 'within_pts'?) (keys: same, within_pts)",
        ),
        (
            lambda r: r["healthy_bar"].update(same="seed"),
            "diagnoses.yaml.healthy_bar.same: must be a list of strings or null, got 'seed'",
        ),
        (
            lambda r: r["healthy_bar"].update(within_pts=101),
            "diagnoses.yaml.healthy_bar.within_pts: must be a number of accuracy points from 0 to 100, got 101",
        ),
        (
            lambda r: r["modes"][1].update(fixs=["train.lr=0.01"]),
            f"diagnoses.yaml.modes[1] (zero start): unknown key 'fixs' (did you mean 'fixes'?) ({KEYS})",
        ),
        (
            lambda r: r["modes"][1].update(within_pts="one"),
            "diagnoses.yaml.modes[1] (zero start).within_pts: must be a number or null, got 'one'",
        ),
        (
            lambda r: r["modes"][0]["all"][0].update(op="=<"),
            "diagnoses.yaml.modes[0] (input scale).all[0].op: unknown op '=<' (did you mean '<'?) "
            "(allowed: > >= < <= == !=)",
        ),
        (
            lambda r: r["repaired"][0].update(feture="failed"),
            "diagnoses.yaml.repaired[0]: unknown key 'feture' (did you mean 'feature'?) (keys: feature, op, value)",
        ),
        (
            lambda r: r.update(mode=[]),
            "diagnoses.yaml: unknown key 'mode' (did you mean 'modes'?) (keys: title, repaired, healthy_bar, modes)",
        ),
    ],
)
def test_a_misspelled_or_mistyped_key_is_one_line_naming_it(tmp_path, change, line):
    assert diagnoses_problems(with_change(tmp_path, change)) == [line]


def test_the_healthy_bar_is_refused_before_a_repair_naming_every_problem(tmp_path):
    def two_mistakes(rules):
        rules["healthy_bar"]["within_pt"] = 5
        rules["modes"][2]["within_pts"] = -1

    with pytest.raises(ConfigError) as refused:
        load_bar(with_change(tmp_path, two_mistakes))
    lines = str(refused.value).splitlines()
    assert len(lines) == 2 and "'within_pt' (did you mean 'within_pts'?)" in lines[0]
    assert lines[1].startswith("diagnoses.yaml.modes[2]") and lines[1].endswith("from 0 to 100, got -1.0")


def test_the_bar_reads_the_files_values():
    bar = load_bar(CONF_DIR / "diagnoses.yaml")
    rules = yaml.safe_load((CONF_DIR / "diagnoses.yaml").read_text())
    assert bar.same == tuple(rules["healthy_bar"]["same"]) and bar.within_pts == rules["healthy_bar"]["within_pts"]
