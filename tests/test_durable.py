"""Nothing finished is lost: each run's record is written the moment its model stops, a sweep stops
cleanly on every signal, and no worker outlives it (real processes, real MNIST at small size)."""

import threading
import time
from pathlib import Path

import pytest

from nnscratch import results
from nnscratch.run import sweep

# two runs in one task, admitted one after the other (64 rows each, at most 64 at a time): the first
# stops while the task still trains the second
QUEUED = {
    "name": "queued",
    "axes": {
        "model": {"hidden": [[64]]},
        "data": {"subset": [3000]},
        "train": {"iterations": [60], "eval_every": [20]},
        "seed": [0, 1],
    },
}
ONE_TASK = {"n_jobs": 1, "scheduler": None, "stack_rows": 64, "stack_tasks": 1}


def wait_for(condition, seconds: float, what: str):
    """Poll `condition` until it returns something true; fail when `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.05)
    pytest.fail(f"waited {seconds} s for {what}")


def records_on_disk(out: Path) -> list[Path]:
    return sorted(out.glob("queued/*/runs/*/metrics.json"))


def sweep_in_thread(parallel: dict, out: Path) -> threading.Thread:
    thread = threading.Thread(target=sweep.run, args=(QUEUED, parallel, [], out), kwargs={"progress": False})
    thread.start()
    return thread


@pytest.mark.parametrize("backend", ["loky", "dask"])
def test_a_record_is_written_while_its_task_still_trains_the_next_run(tmp_path, backend):
    if backend == "dask":
        pytest.importorskip("distributed", reason="the dask extra is installed by .ci/run")
    out = tmp_path / "out"
    thread = sweep_in_thread({"backend": backend, **ONE_TASK}, out)
    try:
        first = wait_for(lambda: records_on_disk(out), 240, "the first record")
        assert len(first) == 1, "both runs stopped before the test could look"
        assert thread.is_alive()  # the task is still training the second run
    finally:
        thread.join(timeout=300)
    (sweep_dir,) = (out / "queued").iterdir()
    df = results.read_results(sweep_dir)
    assert len(df) == 2 and df["status"].eq("finished").all()
    assert df["stacked_with"].eq(2).all()  # both ran in the one task
    stamps = sorted(p.stat().st_mtime for p in records_on_disk(out))
    assert stamps[1] - stamps[0] > 0.2  # written as each stopped, not together at the task's end
