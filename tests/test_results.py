"""results.py: the one schema of everything written, and its readers: a sweep's tables come from its
journal, heal from its run folders, and equal a table built from the folders themselves."""

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import scale
from nnscratch import results
from nnscratch.run import sweep


def test_a_run_written_is_read_back_as_it_was_nan_included(tmp_path):
    run = {"run_id": "abc", "config": {"seed": 3}, "axes": {"seed": 3}}
    metrics = {"status": "finished", "test_acc": 0.5, "best_test_acc": float("nan")}
    history = [{"iteration": 0, "loss": 2.3}, {"iteration": 10, "loss": float("inf")}]
    results.write_run(tmp_path / "abc", run, metrics, history)
    back = results.read_run(tmp_path / "abc")
    assert back["run"] == run
    assert back["metrics"]["test_acc"] == 0.5 and np.isnan(back["metrics"]["best_test_acc"])
    frame = pd.read_csv(tmp_path / "abc" / "history.csv")
    assert list(frame["iteration"]) == [0, 10] and np.isinf(frame["loss"].iloc[1])


def test_atomic_writes_leave_no_partial_file(tmp_path):
    path = tmp_path / "x.json"
    results.write_json(path, {"a": 1})
    results.write_json(path, {"a": 2})
    assert results.read_json(path) == {"a": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]  # no temporary file left behind


def test_the_journal_heals_from_the_run_folders(tmp_path):
    """Tables come from the journal; a run folder without a line, or newer than its line, is read."""
    grid = scale.trivial_grid(40)
    sweep_dir, _ = sweep.run(
        sweep.SweepRequest(grid, [], tmp_path), {"backend": "loky", "n_jobs": 2, "stack_rows": 64}, progress=False
    )
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
    sweep_dir, counts = sweep.run(
        sweep.SweepRequest(grid, [], tmp_path), {"backend": "loky", "n_jobs": 2}, progress=False
    )
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


def test_a_record_written_again_replaces_the_old_one_whole(tmp_path):
    """A failed run redone by resume= swaps folders: nothing of the old record is left."""
    results.write_run(tmp_path / "r", {"run_id": "r"}, {"status": "failed", "error": "x"}, [{"iteration": 0}])
    (tmp_path / "r" / "stray.txt").write_text("from the failed attempt")
    results.write_run(tmp_path / "r", {"run_id": "r"}, {"status": "finished"}, [{"iteration": 0}])
    assert results.read_run(tmp_path / "r")["metrics"] == {"status": "finished"}
    assert not (tmp_path / "r" / "stray.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_two_folders_are_compared_run_for_run_and_a_changed_last_bit_is_found(tmp_path):
    from benchmarks.same_numbers import differences

    def folder(name: str, loss: float) -> Path:
        sweep_dir = tmp_path / name
        results.write_json(sweep_dir / "sweep.json", {"name": name, "axes": ["seed"]})
        for rid in ("a", "b"):
            run = {"run_id": rid, "config": {"seed": 0}, "axes": {"seed": 0}, "command": "python -m experiments.train"}
            history = [{"iteration": 0, "loss": 2.0}, {"iteration": 5, "loss": loss if rid == "b" else 1.0}]
            results.write_run(sweep_dir / "runs" / rid, run, {"status": "finished", "seconds": len(name)}, history)
        results.write_results(sweep_dir)
        return sweep_dir

    same, counts = differences(folder("before", 1.5), folder("after", 1.5))
    assert same == [] and counts["runs"] == 2 and counts["history values"] == 4  # seconds differ: not a number
    changed, _ = differences(tmp_path / "before", folder("later", float(np.nextafter(np.float32(1.5), 2))))
    assert changed == ["run b: history.csv loss"]
