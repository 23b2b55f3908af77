"""A large grid of trivial runs (800, over the report's 300-row cut): it completes, resumes after Ctrl-C
without redoing finished runs, and its report stays readable (sampled figures, cut tables)."""

import os
import signal
import subprocess
import sys

import pytest
import yaml

from benchmarks import scale
from nnscratch import results
from nnscratch.paths import CONF_DIR

pytestmark = pytest.mark.slow  # end to end: the entry points in subprocesses

ROOT = CONF_DIR.parent


def test_an_800_run_grid_resumes_after_ctrl_c_and_reports(tmp_path, conf_copy, wait_for):
    conf, out = conf_copy, tmp_path / "out"
    grid = scale.trivial_grid(800) | {"name": "trivial"}  # over the report's 300-row cut; larger: benchmarks.scale
    (conf / "sweep" / "trivial.yaml").write_text(yaml.safe_dump(grid))
    argv = [sys.executable, "-m", "experiments.sweep", f"--config-dir={conf}", "sweep=trivial", f"out_root={out}"]
    proc = subprocess.Popen(
        [*argv, "report=false"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # see test_sweep's Ctrl-C test
    )
    # complete runs only: runs/ also holds .started/, .progress/ and folders being written
    wait_for(lambda: len(list(out.glob("trivial/*/runs/[!.]*/metrics.json"))) >= 300, 300, "300 complete runs")
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "interrupted" in stderr
    (sweep_dir,) = (out / "trivial").iterdir()
    before = {d.name: (d / "metrics.json").stat().st_mtime_ns for d in results.run_dirs(sweep_dir)}
    assert 300 <= len(before) < 800

    done = subprocess.run([*argv, f"resume={sweep_dir}"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    after = {d.name: (d / "metrics.json").stat().st_mtime_ns for d in results.run_dirs(sweep_dir)}
    assert len(after) == 800 and all(after[r] == t for r, t in before.items())  # none redone
    df = results.read_results(sweep_dir)
    assert len(df) == 800 and df["status"].eq("finished").all()
    html = (sweep_dir / "report.html").read_text()
    md = (sweep_dir / "report.md").read_text()
    assert "first 300 of 800 rows" in md and md.count("\n|") < 800  # tables cut to their first rows
    assert "All runs" in html and html.count("<tr>") < 800  # the all-runs table is a sortable one
