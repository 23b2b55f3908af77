"""A large grid of trivial runs: it completes, resumes after Ctrl-C without redoing finished runs,
and its report stays readable (sampled figures, cut tables)."""

import io
import json
import os
import shutil
import signal
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from nnscratch import results
from nnscratch.paths import CONF_DIR
from nnscratch.perf import scale
from nnscratch.run import sweep

pytestmark = pytest.mark.slow  # end to end: the entry points in subprocesses

ROOT = CONF_DIR.parent


def test_a_2000_run_grid_resumes_after_ctrl_c_and_reports(tmp_path, conf_copy, wait_for):
    conf, out = conf_copy, tmp_path / "out"
    grid = scale.trivial_grid(2000) | {"name": "trivial"}
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
    assert 300 <= len(before) < 2000

    done = subprocess.run([*argv, f"resume={sweep_dir}"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    after = {d.name: (d / "metrics.json").stat().st_mtime_ns for d in results.run_dirs(sweep_dir)}
    assert len(after) == 2000 and all(after[r] == t for r, t in before.items())  # none redone
    df = results.read_results(sweep_dir)
    assert len(df) == 2000 and df["status"].eq("finished").all()
    html = (sweep_dir / "report.html").read_text()
    md = (sweep_dir / "report.md").read_text()
    assert "first 300 of 2,000 rows" in md and md.count("\n|") < 2000  # tables cut to their first rows
    assert "All runs" in html and html.count("<tr>") < 2000  # the all-runs table is a sortable one


def test_the_journal_heals_from_the_run_folders(tmp_path):
    """Tables come from the journal; a run folder without a line, or newer than its line, is read."""
    grid = scale.trivial_grid(40)
    sweep_dir, _ = sweep.run(grid, {"backend": "loky", "n_jobs": 2, "stack_rows": 64}, [], tmp_path, progress=False)
    full = results.read_results(sweep_dir)
    journal = sorted((sweep_dir / "journal").glob("*.jsonl"))
    lines = journal[0].read_text().splitlines()
    journal[0].write_text("\n".join(lines[:-2]) + "\n" + lines[-1][:20])  # two lines lost, one cut mid-line
    ids = sorted(full["run_id"])
    shutil.rmtree(sweep_dir / "runs" / ids[0])  # a deleted folder is no longer a run
    edited = sweep_dir / "runs" / ids[1] / "metrics.json"
    edited.write_text(json.dumps({"status": "failed", "error": "edited"}))
    results.write_results(sweep_dir)
    table = results.read_results(sweep_dir)
    assert sorted(table["run_id"]) == ids[1:]
    assert table.set_index("run_id").loc[ids[1], "status"] == "failed"
    same = table[table["run_id"] != ids[1]].reset_index(drop=True)
    pd.testing.assert_frame_equal(same, full[~full["run_id"].isin(ids[:2])].reset_index(drop=True), check_dtype=False)
    assert results.finished_ids(sweep_dir) == set(ids[2:])


def test_results_csv_from_journaled_lines_equals_a_table_of_the_run_folders(tmp_path):
    """results.csv is assembled from the lines the journal carries; pandas building the table from
    every run folder gives the same frame. A journal of an older format is rebuilt from the folders."""
    grid = scale.trivial_grid(40) | {"extra": {"failing": {"weights": ["uniform"], "fault": ["raise"]}}}
    sweep_dir, counts = sweep.run(grid, {"backend": "loky", "n_jobs": 2}, [], tmp_path, progress=False)
    assert counts["failed"] == 1 and counts["finished"] == 40
    columns = results.result_columns(sweep_dir)
    rows = [results.result_row(**results.read_run(d)) for d in results.run_dirs(sweep_dir)]
    expected = pd.read_csv(io.StringIO(pd.DataFrame(rows, columns=columns).to_csv(index=False)))
    pd.testing.assert_frame_equal(results.read_results(sweep_dir), expected)
    for path in (sweep_dir / "journal").glob("*.jsonl"):  # objects without "line", as an older version wrote
        heads = [json.loads(line.partition("\t")[0]) for line in path.read_text().splitlines()]
        path.write_text("".join(json.dumps(dict(zip(results.ENTRY[:-1], h))) + "\t[]\n" for h in heads))
    results.write_results(sweep_dir)
    pd.testing.assert_frame_equal(results.read_results(sweep_dir), expected)
