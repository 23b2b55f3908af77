"""Reports from fixture sweeps written through the results module: every table and figure, verdicts that
follow the data, absent cells, other axes, several datasets; and a real smoke sweep's report."""

import itertools
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnscratch import results
from nnscratch.claims import evaluate, load_claims
from nnscratch.paths import CONF_DIR
from nnscratch.report import write_report
from nnscratch.report.load import load_sweep

CLAIMS = load_claims(CONF_DIR / "claims.yaml")
LOG_AXES = {
    "model.hidden": ["[10]", "[64]"],
    "data.subset": [5000, 60000],
    "data.scaling": ["unit", "none"],
    "weights": ["uniform", "zeros"],
    "biases": ["zeros", "normal"],
    "seed": [0, 1, 2, 3, 4, 5],  # six: the first look at which the exact binomial design can decide
}


def healthy(cell: dict) -> float:
    """A plausible test accuracy: collapse for unscaled or zero-weight cells, else ~0.85-0.9."""
    if cell.get("data.scaling") == "none" or cell.get("weights") == "zeros":
        return 0.11
    return 0.85 + (0.04 if cell.get("model.hidden") == "[64]" else 0.0)


def make_sweep(root, axes: dict, accuracy=healthy, dataset="mnist", name="fixture"):
    """A sweep folder with one run per cell and seed, written through nnscratch.results."""
    sweep_dir = root / name
    rng = np.random.default_rng(0)
    for i, combo in enumerate(itertools.product(*axes.values())):
        cell = dict(zip(axes, combo))
        acc = accuracy(cell) + rng.normal(0, 0.002)
        jitter = 1 + rng.normal(0, 0.01)  # real runs' activations differ by seed: equal floats decide nothing
        learned = acc > 0.3
        train_acc = acc + (0.08 if cell.get("data.subset") == 5000 else 0.01) * learned
        history = [
            {
                "iteration": it,
                "loss": 2 - it / 400,
                "train_acc": train_acc * min(1, 0.2 + it / 400),
                "test_acc": acc * min(1, 0.2 + it / 400),
                "dead_l1": 0.5 if cell.get("biases") == "normal" else 0.0,
                "act_mean_l1": (300.0 if cell.get("data.scaling") == "none" else 1.0) * jitter,
                "grad_norm_l1": (500.0 if cell.get("data.scaling") == "none" else 1.0) * jitter,
                "distinct_l1": 10 if learned else 1,
            }
            for it in range(0, 501, 100)
        ]
        metrics = {
            "status": "finished",
            "error": None,
            **history[-1],
            "outcome": "ok" if learned else "collapsed",
            "best_test_acc": acc,
            "majority_rate": 0.1135,
            "seconds": 1.0,
        }
        spec = {
            "run_id": f"r{i:04d}",
            "overrides": [],
            "command": f"python -m experiments.train # {i}",
            "axes": cell,
            "config": {"data": {"name": dataset}},
        }
        results.write_run(sweep_dir / "runs" / spec["run_id"], spec, metrics, history)
    results.write_json(sweep_dir / "sweep.json", {"name": name, "axes": list(axes), "sessions": []})
    results.write_results(sweep_dir)
    return sweep_dir


def verdicts(sweep_dir) -> dict:
    s = load_sweep(sweep_dir)
    return {c.id: c for c in evaluate(CLAIMS, s.runs, s.histories, s.axes)}


@pytest.fixture(scope="module")
def log_sweep(tmp_path_factory) -> Path:
    """make_sweep of LOG_AXES, for the tests that only read it (192 run folders)."""
    return make_sweep(tmp_path_factory.mktemp("log"), LOG_AXES)


@pytest.fixture(scope="module")
def log_report(tmp_path_factory) -> tuple[Path, str]:
    """(folder, report.html) of LOG_AXES's report, written once for the tests that read it (each report
    draws every figure: the slowest step of this module)."""
    sweep_dir = make_sweep(tmp_path_factory.mktemp("log_report"), LOG_AXES)
    return sweep_dir, write_report([sweep_dir]).read_text()


def test_report_has_every_figure_and_table_and_is_self_contained(log_report):
    sweep_dir, html = log_report
    figures = {p.name for p in (sweep_dir / "figures").iterdir()}
    assert figures == {
        "claim_intervals.png",
        "collapse_heatmaps.png",
        "strip_by_factor.png",
        "parallel_coordinates.png",
        "learning_curves.png",
        "unit_diagnostics.png",
        "overfitting.png",
        "diagnosis_cells.png",
        "diagnosis_curves.png",
        "effects.png",
    }
    csvs = " ".join(p.name for p in (sweep_dir / "tables").iterdir())
    for table in (
        "main_effects",
        "interactions",
        "outcome_counts",
        "test_accuracy_per_cell",
        "all_runs",
        "claims_of_the_learning_log",
        "each_level_against_its_axis_s_first_level",
    ):
        assert table in csvs
    assert html.count("data:image/png;base64,") == len(figures)
    # nothing loaded from elsewhere: no external image, script, stylesheet, frame, module import or css url
    assert not re.search(r"""<(?:img|script|link|iframe)\b[^>]*\b(?:src|href)=["']?(?:https?:)?//""", html)
    assert not re.search(r"""(?:from\s+|import\(\s*|url\(\s*)["']?(?:https?:)?//""", html)
    md = (sweep_dir / "report.md").read_text()
    assert "Unscaled pixels collapse accuracy" in md and "](figures/collapse_heatmaps.png)" in md


def test_report_html_renders_markdown_links_claims_and_sorts_all_runs_offline(log_report):
    sweep_dir, html = log_report
    text = re.sub(r"<script.*?</script>", "", html, flags=re.S)
    assert "**" not in text and "<strong>~96%</strong>" in text  # the log's quotes, rendered
    ids = set(re.findall(r'<h[23] id="([^"]+)"', html))
    contents = re.search(r"<nav>(.*?)</nav>", html, re.S).group(1)
    assert set(re.findall(r'href="#([^"]+)"', contents)) == ids  # the contents list links every section
    claim_links = re.findall(r'<td><a href="#([^"]+)">', html)
    judged = [c for c in verdicts(sweep_dir).values() if not c.checks[0].cells.empty]
    assert len(claim_links) == len(judged) < len(CLAIMS["claims"])  # the claims this grid tests, one row each
    assert set(claim_links) <= ids  # each verdict row -> its section
    verdicts_id = next(i for i in ids if i.endswith("verdicts"))
    assert html.count(f'href="#{verdicts_id}"') == len(judged) + 1  # and each section back
    guarantee = re.search(r"<p>How sure: (.*?)</p>", html, re.S).group(1)
    assert len(guarantee.split()) < 80 and 'href="#how_sure"' in guarantee and "how_sure" in ids  # the rest linked
    assert html.count("<figcaption>") == len(list((sweep_dir / "figures").iterdir()))
    all_runs = re.search(r'<div class="sortable">(.*?)</div>', html, re.S).group(1)
    assert "All runs" in all_runs and "<table" in all_runs
    assert "injectModule(" in html and len(html) > 500_000  # the DataTables bundle, inline (base64)


def test_verdicts_follow_the_data(tmp_path):
    supported = verdicts(make_sweep(tmp_path, LOG_AXES, name="a"))["unscaled"]
    assert supported.verdict == "supported"
    learns = lambda c: 0.11 if c.get("weights") == "zeros" else 0.8
    assert verdicts(make_sweep(tmp_path, LOG_AXES, learns, name="b"))["unscaled"].verdict == "refuted"
    only_small = lambda c: 0.8 if c["data.scaling"] == "none" and c["model.hidden"] == "[64]" else healthy(c)
    split = verdicts(make_sweep(tmp_path, LOG_AXES, only_small, name="c"))["unscaled"]
    # cells hold and fail alone (6 of 6), but Holm across 8 cells asks p <= 0.05 / 8 of the first: 6 seeds give 2/64
    assert split.verdict == "inconclusive" and "not kept by Holm across the cells" in split.checks[0].reason
    assert set(split.checks[0].cells["alone"]) == {"holds", "fails"}


def test_the_logs_mechanisms_are_checked_with_numbers(log_sweep):
    claim = verdicts(log_sweep)["unscaled"]
    mechanism = claim.checks[1]
    assert mechanism.verdict == "supported" and mechanism.cells["mean"].min() == pytest.approx(300, rel=0.1)


def test_seeds_that_disagree_make_a_claim_inconclusive(tmp_path):
    rng = np.random.default_rng(1)
    noisy = lambda c: (
        0.11
        if c.get("data.scaling") == "none" and rng.random() < 0.5
        else healthy(c) + 0.3 * (c.get("data.scaling") == "none")
    )
    assert verdicts(make_sweep(tmp_path, LOG_AXES, noisy))["unscaled"].verdict == "inconclusive"


def test_claims_whose_cells_are_absent_are_inconclusive_not_errors(log_sweep):
    v = verdicts(log_sweep)
    assert v["deeper_is_better"].verdict == "inconclusive"
    assert v["reference_run"].checks[3].verdict == "inconclusive"  # no 3,000-iteration cell


def test_the_same_folder_draws_the_same_figures_byte_for_byte(tmp_path):
    """Every PNG of a report written twice, from different NumPy global random states, is the same file
    (the strip plots' jitter is seeded), and the caller's global random state is left as it was."""
    axes = {"model.hidden": ["[10]", "[64]"], "data.scaling": ["unit", "none"], "seed": [0, 1, 2]}
    sweep_dir = make_sweep(tmp_path, axes)
    drawn = []
    for state in (1, 2):
        np.random.seed(state)
        write_report([sweep_dir])
        assert np.random.random() == np.random.RandomState(state).random()  # as if nothing had drawn
        drawn.append({p.name: p.read_bytes() for p in (sweep_dir / "figures").iterdir()})
    assert {"strip_by_factor.png", "unit_diagnostics.png"} <= set(drawn[0])
    assert [n for n in drawn[0] if drawn[0][n] != drawn[1][n]] == []


def test_a_sweep_with_an_extra_and_a_missing_axis_still_gets_its_report(tmp_path):
    axes = {
        "model.hidden": ["[10]", "[64]"],
        "train.lr": [0.01, 0.1, 1.0],
        "data.scaling": ["unit", "none"],
        "seed": [0, 1],
    }
    sweep_dir = make_sweep(tmp_path, axes)
    html = write_report([sweep_dir]).read_text()
    header = "model.hidden ([10], [64]) × train.lr (0.01, 0.1, 1) × data.scaling (unit, none), 2 seeds per cell."
    assert header in html and "1 levels" not in html
    effects = next(p for p in (sweep_dir / "tables").iterdir() if "main_effects" in p.name).read_text()
    assert "train.lr" in effects  # the extra axis has its own main effect
    assert verdicts(sweep_dir)["random_biases"].verdict == "inconclusive"  # no biases axis
    figures = {p.name for p in (sweep_dir / "figures").iterdir()}
    assert len(figures) == 9 and "effects.png" in figures  # with the two of "Why runs failed" and the effects
    assert "claim_intervals.png" not in figures  # no claim of the log's selects runs without a weights axis


def test_two_datasets_side_by_side_say_which_claim_changes(tmp_path):
    # width does not help on "mnist" (hidden 64 a point below: clear of the 3-seed look's |t| >= 14.9)
    flat = lambda c: healthy(c) if healthy(c) < 0.5 else 0.87 - 0.01 * (c.get("model.hidden") == "[64]")
    mnist = make_sweep(tmp_path / "m", LOG_AXES, flat, dataset="mnist")
    harder = lambda c: (
        0.5
        if c.get("model.hidden") == "[10]" and c.get("data.subset") == 60000 and healthy(c) > 0.5
        else healthy(c) - 0.1 * (healthy(c) > 0.5)
    )
    fashion = make_sweep(tmp_path / "f", LOG_AXES, harder, dataset="fashion_mnist")
    out = tmp_path / "compare"
    html = write_report([mnist, fashion], out).read_text()
    table = next(p for p in (out / "tables").iterdir() if "verdicts_per_dataset" in p.name).read_text()
    rows = {line.split(",")[0]: line for line in table.splitlines()}
    assert "same on every dataset" in rows["Unscaled pixels collapse accuracy to about 0.11"]
    wider = rows["A larger network (784 → 64 → 10) is the better choice for the full MNIST set"]
    assert "changes with the dataset" in wider and "refuted on mnist" in wider and "supported on fashion_mnist" in wider
    assert (out / "figures" / "compare_collapse_heatmaps.png").is_file()
    assert "mnist_collapse_heatmaps.png" in " ".join(p.name for p in (out / "figures").iterdir())
    assert "Verdicts per dataset" in html


def test_real_two_dataset_smoke_report(tmp_path):
    dirs = []
    for dataset in ("mnist", "fashion_mnist"):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "experiments.sweep",
                "sweep=smoke",
                "adaptive.enabled=false",
                f"data={dataset}",
                f"out_root={tmp_path / dataset}",
                "sweep.axes.train.iterations=[30]",
                "sweep.axes.model.hidden=[[10]]",
                "sweep.axes.seed=[0]",
            ],
            cwd=CONF_DIR.parent,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        (sweep_dir,) = (tmp_path / dataset / "smoke").iterdir()
        assert (sweep_dir / "report.html").is_file()  # every sweep ends with its report
        dirs.append(sweep_dir)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.report",
            f"sweep_dirs=[{dirs[0]},{dirs[1]}]",
            f"out_dir={tmp_path / 'cmp'}",
        ],
        cwd=CONF_DIR.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "cmp" / "report.html").read_text()
    assert "fashion_mnist verdict" in html and "mnist verdict" in html


def test_a_null_axis_value_is_a_level_of_its_own_in_every_figure_and_table(tmp_path):
    """A grid with `train.batch_size: [null, 100]` (null = full batch) crashed the report
    (parallel_coordinates: KeyError 'nan'); its null level is drawn and counted as "null"."""
    axes = {"train.batch_size": [None, 100], "biases": ["zeros", "normal"], "seed": [0, 1, 2]}
    sweep_dir = make_sweep(tmp_path, axes)
    assert load_sweep(sweep_dir).runs["train.batch_size"].isna().sum() == 6  # read back as NaN
    write_report([sweep_dir])
    assert (sweep_dir / "figures" / "parallel_coordinates.png").is_file()
    md = (sweep_dir / "report.md").read_text()
    counts = [line for line in md.splitlines() if line.startswith("| train.batch_size")]
    assert any("| null " in line and "|    6 |" in line for line in counts), counts


def test_a_grid_of_ones_own_opens_with_its_effects_and_lists_untested_claims_in_one_line(tmp_path):
    """weights x train.lr, axes the log never varied: the report opens with what they do; the log's claims,
    none of which this grid tests, are one line naming what they need, never rows of verdicts."""
    he_helps = lambda c: 0.85 + 0.02 * (c["weights"] == "he")
    axes = {"weights": ["uniform", "he"], "train.lr": [0.1, 0.5], "seed": [0, 1, 2]}
    sweep_dir = make_sweep(tmp_path, axes, he_helps)
    html = write_report([sweep_dir]).read_text()
    body = re.sub(r"<nav>.*?</nav>", "", html, flags=re.S)
    first = re.findall(r"<h2 id=\"([^\"]+)\"", body)
    assert first[:2] == [first[0], "what_this_grid_varied"]  # right after the header
    assert re.search(r"weights = he beats uniform by 1\.\d \[1\.\d, 2\.\d\] points", html)  # 2 points, noise 0.2
    assert "verdicts" not in " ".join(first) and "INCONCLUSIVE" not in body.split("</style>")[1]  # no verdict rows
    assert not list((sweep_dir / "figures").glob("claim_intervals*"))
    (line,) = [p for p in re.findall(r"<p>(.*?)</p>", html, re.S) if "Not tested by this grid" in p]
    assert "Unscaled pixels collapse accuracy to about 0.11" in line
    assert "<code>data.scaling: [none, unit]</code>" in line and "<code>weights: [zeros]</code>" in line
    assert "<code>weights: [uniform" not in line  # the grid has uniform weights: not needed


def test_a_claim_the_grid_tests_is_a_row_and_the_rest_stay_one_line(tmp_path):
    axes = {"data.scaling": ["unit", "none"], "weights": ["uniform", "he"], "seed": [0, 1, 2]}
    sweep_dir = make_sweep(tmp_path, axes)
    write_report([sweep_dir])
    table = next(p for p in (sweep_dir / "tables").iterdir() if "claims_of_the_learning_log" in p.name).read_text()
    assert "Unscaled pixels collapse accuracy" in table and "Zero weight initialization" not in table
    md = (sweep_dir / "report.md").read_text()
    assert "Not tested by this grid (claims.yaml): Zero weight initialization prevents learning;" in md


def test_the_rounds_table_names_cells_in_words_not_mappings():
    import pandas as pd

    from nnscratch.report.load import Sweep
    from nnscratch.report.rounds import rounds_section

    cell = {"cell": {"weights": "he", "train.lr": 0.1}, "seeds": [3, 4], "runs": [{}, {}], "reason": "undecided"}
    record = {
        "adaptive": {"max_seeds": 10},
        "rounds": [{"round": 1, "cells": [cell], "verdicts_before": {"a": "inconclusive"}, "verdicts_after": {}}],
    }
    section = rounds_section(Sweep(None, "g", "mnist", [], pd.DataFrame(), pd.DataFrame(), record))
    assert section.tables[0][1]["cell"].tolist() == ["weights = he, train.lr = 0.1"]
    assert "1 round," in section.text[0] and "(s)" not in section.text[0]
