"""Nothing finished is lost: each run's record is written the moment its model stops, a sweep stops
cleanly on every signal, and no worker outlives it (real processes, real MNIST at small size)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import yaml
from conftest import wait_until as wait_for

from benchmarks.stops_grid import every_number, saved_iterations
from nnscratch import results
from nnscratch.config.checks import ConfigError
from nnscratch.paths import CONF_DIR
from nnscratch.run import stopping, sweep

ROOT = CONF_DIR.parent

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


def records_on_disk(out: Path) -> list[Path]:
    return sorted(out.glob("queued/*/runs/*/metrics.json"))


def sweep_in_thread(parallel: dict, out: Path) -> threading.Thread:
    thread = threading.Thread(
        target=sweep.run, args=(sweep.SweepRequest(QUEUED, [], out), parallel), kwargs={"progress": False}
    )
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


# ---------------------------------------------------------------- every way a sweep is stopped

# 4 runs in 2 tasks of 2, each task training its runs one after the other: when the first record is
# on disk, both tasks are still training
DURABLE = {**QUEUED, "name": "durable", "axes": {**QUEUED["axes"], "seed": [0, 1, 2, 3]}}
STACKED = ["parallel.n_jobs=2", "parallel.stack_rows=64", "parallel.stack_tasks=2"]
STACKED += ["report=false", "adaptive.enabled=false"]


@pytest.fixture(scope="module")
def conf(tmp_path_factory) -> Path:
    """A copy of conf/ with the DURABLE grid as conf/sweep/durable.yaml."""
    folder = tmp_path_factory.mktemp("durable") / "conf"
    shutil.copytree(CONF_DIR, folder)
    (folder / "sweep" / "durable.yaml").write_text(yaml.safe_dump(DURABLE, sort_keys=False))
    return folder


def start_sweep(conf: Path, out: Path, *extra: str, inherit_sigint_ignored: bool = True) -> subprocess.Popen:
    """`python -m experiments.sweep sweep=durable` in its own process group. As a shell's background
    job it inherits SIGINT ignored (what made `kill -INT` do nothing before)."""
    argv = [sys.executable, "-m", "experiments.sweep", "sweep=durable", f"out_root={out}", *STACKED, *extra]
    return subprocess.Popen(
        [*argv, f"--config-dir={conf}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: inherited_signals(inherit_sigint_ignored),
    )


def inherited_signals(sigint_ignored: bool) -> None:
    """In the sweep's process before it starts: SIGHUP as a terminal leaves it (a suite run under
    nohup would pass it on ignored, and nohup's sweep rightly outlives a hangup), SIGINT ignored or not."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN if sigint_ignored else signal.SIG_DFL)


def session(sid: int) -> list[int]:
    """The living processes of session `sid` (a sweep started with start_new_session: it and every
    process it started, however deep)."""

    def member(pid: int) -> bool:
        try:
            return os.getsid(pid) == sid and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except (ProcessLookupError, psutil.NoSuchProcess):
            return False

    return [p for p in psutil.pids() if member(p)]


def pending(pid: int, sig: int) -> bool:
    """Whether `sig`, sent to `pid`, still waits to be delivered (/proc/<pid>/status: SigPnd, ShdPnd)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
    except FileNotFoundError:
        return False
    masks = [int(line.split()[1], 16) for line in status if line.startswith(("SigPnd:", "ShdPnd:"))]
    return any(mask >> (sig - 1) & 1 for mask in masks)


def alive(pids: list[int]) -> list[int]:
    def running(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    return [p for p in pids if running(p)]


def interrupt_at_first_record(proc: subprocess.Popen, out: Path, how: str, sig: int) -> tuple[list[int], float]:
    """Wait for the sweep's first record, then send `sig` to the client (`how`: client) or its process
    group (group); (the client's child processes at that moment, when the signal went)."""
    wait_for(lambda: list(out.glob("durable/*/runs/*/metrics.json")), 240, "the first record")
    workers = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    assert workers, "the sweep had no worker processes"
    (os.killpg if how == "group" else os.kill)(proc.pid, sig)
    return workers, time.monotonic()


@pytest.mark.parametrize(
    "how,sig",
    [("group", signal.SIGINT), ("client", signal.SIGINT), ("client", signal.SIGTERM), ("client", signal.SIGHUP)],
)
def test_a_stop_signal_ends_the_sweep_and_its_workers_keeping_every_stopped_run(conf, tmp_path, how, sig):
    out = tmp_path / "out"
    proc = start_sweep(conf, out)
    workers, sent = interrupt_at_first_record(proc, out, how, sig)
    _, stderr = proc.communicate(timeout=60)
    took = time.monotonic() - sent
    assert took < 20, f"the sweep took {took:.1f} s to stop"
    assert proc.returncode == 128 + sig, stderr[-2000:]
    wait_for(lambda: not alive(workers), 10, "every worker to end with the client")
    (sweep_dir,) = (out / "durable").iterdir()
    on_disk = sorted(d.name for d in results.run_dirs(sweep_dir))
    assert 1 <= len(on_disk) < 4
    assert sorted(results.read_results(sweep_dir)["run_id"]) == on_disk  # results.csv has every stopped run
    assert f"interrupted by {signal.Signals(sig).name}" in stderr and f"resume={sweep_dir}" in stderr
    assert not (sweep_dir / "sweep.lock").exists()
    wait_for(lambda: not session(proc.pid), 10, "every process of the sweep's session to end")
    assert sorted(d.name for d in results.run_dirs(sweep_dir)) == on_disk  # nobody left who could write


def test_a_sigkilled_client_takes_its_workers_with_it_and_resume_equals_a_straight_sweep(conf, tmp_path, straight):
    out = tmp_path / "out"
    proc = start_sweep(conf, out)
    workers, _ = interrupt_at_first_record(proc, out, "client", signal.SIGKILL)
    proc.communicate(timeout=30)
    wait_for(lambda: not alive(workers), 10, "the orphaned workers to notice and exit")
    (sweep_dir,) = (out / "durable").iterdir()
    kept = {d.name: (d / "metrics.json").stat().st_mtime_ns for d in results.run_dirs(sweep_dir)}
    assert 1 <= len(kept) < 4
    assert (sweep_dir / "sweep.lock").exists()  # left by the killed client: a dead holder's, ignored
    resumed = start_sweep(conf, out, f"resume={sweep_dir}")
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr[-2000:]
    assert {rid: (sweep_dir / "runs" / rid / "metrics.json").stat().st_mtime_ns for rid in kept} == kept
    assert every_number(sweep_dir) == straight  # bit for bit, each run of the 4


@pytest.fixture(scope="module")
def straight(conf) -> dict:
    """every_number of the DURABLE sweep run straight through."""
    out = conf.parent / "straight"
    proc = start_sweep(conf, out)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-2000:]
    (sweep_dir,) = (out / "durable").iterdir()
    return every_number(sweep_dir)


def test_a_second_writer_is_refused_while_the_first_lives_and_a_dead_ones_lock_is_ignored(tmp_path):
    with stopping.sweep_lock(tmp_path) as lock:
        assert lock.read_text().startswith(f"{socket.gethostname()}:{os.getpid()}:")
        with pytest.raises(ConfigError, match="still writing this sweep"):
            with stopping.sweep_lock(tmp_path):
                pass
    assert not lock.exists()
    gone = subprocess.Popen(["true"])
    gone.wait()
    lock.write_text(f"{socket.gethostname()}:{gone.pid}:0.00\n")  # a holder that died
    with stopping.sweep_lock(tmp_path):
        assert f":{os.getpid()}:" in lock.read_text()


# ---------------------------------------------------------------- checkpoints


def numbers(result) -> str:
    """A run's metrics (less its time) and history as exact text: floats by repr, which round-trips every
    bit, and NaN as NaN (NaN != NaN, and a NaN read back is no longer the object the history shared)."""
    metrics = {k: v for k, v in result.metrics.items() if k != "seconds"}
    return json.dumps([metrics, result.history], sort_keys=True)


@pytest.mark.parametrize(
    "overrides,max_rows",
    [
        (["model.hidden=[16]", "weights=normal", "biases=normal"], 24),  # stacked, admitted as rows free up
        (["optimizer=adam", "train.lr=0.001", "train.batch_size=100", "train.eval_every=1"], None),  # mini-batch
    ],
)
def test_a_stack_continued_from_its_state_equals_one_that_never_stopped(mnist, overrides, max_rows):
    from nnscratch.config.compose import compose_run
    from nnscratch.run.prepared import prepare_with
    from nnscratch.train import Hooks, train_stack

    cfg, _ = compose_run(["data.subset=1000", "train.iterations=30", "train.eval_every=5", *overrides])
    cfgs = [cfg | {"seed": s} for s in range(3 if max_rows else 1)]
    data = prepare_with(mnist, cfg)
    states = []
    every_iteration = Hooks(checkpoint=(0.0, states.append))  # a state every iteration
    straight = train_stack(cfgs, data, max_rows, hooks=every_iteration)
    assert len(states) > 10
    for k in (3, len(states) // 2, len(states) - 2):
        rest = []
        resumed = train_stack(cfgs, data, max_rows, hooks=Hooks(checkpoint=(0.0, rest.append)), state=states[k])
        assert len(rest) == len(states) - k - 1  # it went on from there, not from the start
        assert [numbers(r) for r in resumed] == [numbers(r) for r in straight]


CHECKPOINTS = "parallel.checkpoint_every=0.3"


def first_checkpoint(out: Path) -> Path:
    return wait_for(lambda: next(iter(out.glob("durable/*/checkpoints/*.ckpt")), None), 240, "a first checkpoint")


def test_a_task_whose_worker_is_killed_continues_from_its_checkpoint(conf, tmp_path, straight):
    out = tmp_path / "out"
    proc = start_sweep(conf, out, CHECKPOINTS)
    first_checkpoint(out)
    # every worker frozen, then killed: no task can end (and remove its checkpoint) in between, and
    # the one whose checkpoint was saved is surely among those that die mid-task
    workers = [w for w in psutil.Process(proc.pid).children(recursive=True) if "popen_loky" in " ".join(w.cmdline())]
    for w in workers:
        w.suspend()
    assert workers and list(out.glob("durable/*/checkpoints/*.ckpt"))
    for w in workers:
        w.kill()
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-2000:]
    assert "continues from its checkpoint" in stderr
    (sweep_dir,) = (out / "durable").iterdir()
    assert every_number(sweep_dir) == straight
    assert not list(sweep_dir.glob("checkpoints/*.ckpt"))  # removed as their tasks ended


def test_a_corrupt_checkpoint_is_said_and_its_task_restarts(conf, tmp_path, straight):
    out = tmp_path / "out"
    proc = start_sweep(conf, out, CHECKPOINTS)
    first_checkpoint(out)
    workers = psutil.Process(proc.pid).children(recursive=True)
    for w in workers:  # frozen first, so that no task ends (and removes its checkpoint) meanwhile
        w.suspend()
    proc.kill()
    for w in workers:  # (they hold the client's pipes open)
        w.kill()
    proc.communicate(timeout=30)
    wait_for(lambda: not alive([w.pid for w in workers]), 10, "the workers to end")
    (sweep_dir,) = (out / "durable").iterdir()
    saved = list(sweep_dir.glob("checkpoints/*.ckpt"))
    assert saved
    for path in saved:
        path.write_bytes(path.read_bytes()[:-100])  # truncated
    resumed = start_sweep(conf, out, CHECKPOINTS, f"resume={sweep_dir}")
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr[-2000:]
    assert "truncated or corrupt" in stderr
    assert every_number(sweep_dir) == straight


def test_a_task_continued_from_a_checkpoint_saved_after_one_of_its_runs_stopped_returns_every_run(tmp_path, caplog):
    """The retry of a task whose worker died (and resume=) once failed with KeyError: <run_id>: a run
    that had stopped before the checkpoint was saved is not passed to on_stop again, so run_task had
    no summary for it. Driven directly: a QUEUED task (its two runs admitted one after the other),
    continued from a state saved after its first run stopped, its first run's record on disk."""
    from nnscratch.run import checkpoint
    from nnscratch.run.prepared import data_key, open_prepared, save_prepared
    from nnscratch.run.task import run_task
    from nnscratch.train import Hooks, saved, train_stack

    _, specs = sweep.plan(QUEUED, [])
    paths = save_prepared(specs, tmp_path / "prepared")
    data_dir = paths[data_key(specs[0]["config"])]
    straight_dir, resumed_dir = tmp_path / "straight", tmp_path / "resumed"
    run_task(specs, data_dir, results.runs_dir(straight_dir), 64)
    states = []
    train_stack([s["config"] for s in specs], open_prepared(data_dir), 64, hooks=Hooks(checkpoint=(0.0, states.append)))
    models = [saved.decode(s)["models"] for s in states]
    k = next(i for i, (first, second) in enumerate(models) if first["final"] is not None and second["final"] is None)
    first = specs[0]["run_id"]
    shutil.copytree(straight_dir / "runs" / first, resumed_dir / "runs" / first)  # written as it stopped
    checkpoint.save_state(resumed_dir / "checkpoints", specs, states[k])
    kept = (resumed_dir / "runs" / first / "metrics.json").stat().st_mtime_ns
    with caplog.at_level("WARNING"):
        summaries = run_task(specs, data_dir, results.runs_dir(resumed_dir), 64, checkpoint_every=60)
    assert "continues from its checkpoint" in caplog.text
    assert [s["run_id"] for s in summaries] == [s["run_id"] for s in specs]
    assert (resumed_dir / "runs" / first / "metrics.json").stat().st_mtime_ns == kept  # not written again
    assert every_number(resumed_dir) == every_number(straight_dir)
    assert not list((resumed_dir / "checkpoints").glob("*.ckpt"))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_clean_stop_saves_each_busy_tasks_checkpoint_and_resume_continues_from_it(conf, tmp_path, straight, sig):
    """Ctrl-C, a scheduler's SIGTERM or a closed terminal's SIGHUP, sent to the whole process group:
    the workers get it too, and must save, not die (the sweep relays SIGINT to its busy workers as
    well when the signal reaches it alone)."""
    out = tmp_path / "out"
    proc = start_sweep(conf, out, "parallel.checkpoint_every=600")  # no checkpoint but the one at the stop
    workers, sent = interrupt_at_first_record(proc, out, "group", sig)
    stdout, stderr = proc.communicate(timeout=60)
    took = time.monotonic() - sent
    assert proc.returncode == 128 + sig, stderr[-2000:]
    assert took < 20, f"the sweep took {took:.1f} s to stop"
    wait_for(lambda: not alive(workers), 10, "every worker to end with the client")
    (sweep_dir,) = (out / "durable").iterdir()
    said = "\n".join(
        line for line in (stdout + stderr).splitlines() if not line.startswith((" ", "Traceback", "KeyError"))
    )
    assert "2 of 2 task(s) in flight saved their checkpoints" in said, said
    # every run not on disk is in a checkpoint saved at the stop, where the stop found it (the next
    # run of a task may not have started yet: the two tasks are alike, their first runs end together)
    assert len(saved_iterations(sweep_dir)) == 4 - len(results.run_dirs(sweep_dir)), said
    resumed = start_sweep(conf, out, "parallel.checkpoint_every=600", f"resume={sweep_dir}")
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr[-2000:]
    assert "continues from its checkpoint" in stderr
    assert every_number(sweep_dir) == straight
    assert not list(sweep_dir.glob("checkpoints/*.ckpt"))


WORKER = """
import os, signal, sys, time
from nnscratch.run import stopping
stopping.HOLD_AFTER_SAVE = 0.5
asked = stopping.save_when_interrupted()
os.kill(os.getpid(), signal.{sig})
time.sleep(0.1)
print(asked(), flush=True)
time.sleep(20)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_checkpointing_worker_takes_an_ending_signal_as_a_request_and_ends_by_it_if_not_stopped(sig):
    """What a worker of a checkpointing task does with SIGTERM or SIGHUP (sent to it alone here:
    nobody stops it): asks its task to save, then, not stopped, ends by that signal."""
    proc = subprocess.run(
        [sys.executable, "-c", WORKER.format(sig=sig.name)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=lambda: inherited_signals(False),  # SIGHUP as a terminal leaves it, even under nohup
    )
    assert proc.stdout.split() == ["True"], proc.stderr[-2000:]  # it lived on, asked to save
    assert proc.returncode == -sig  # then ended by the signal, as without the handler


POOL = """
import os, time
from joblib import Parallel, delayed
from nnscratch.run.loky import pool

def pid(_):
    time.sleep(0.3)
    return os.getpid()

with pool(2, every=60):
    pids = set(Parallel()(delayed(pid)(i) for i in range(4)))
print(*pids, flush=True)
time.sleep(120)
"""


def test_idle_loky_workers_leave_a_groups_sigterm_to_the_sweep_and_end_with_a_sigkilled_sweep():
    """A checkpointing sweep's loky pool, idle between tasks: SIGTERM (as sent to the whole group)
    must not end its workers (a dead worker breaks the pool: loky then kills the busy ones mid-save),
    and they must end once their parent is SIGKILLed (loky's own idle workers live on until their
    300-s idle timeout)."""
    parent = subprocess.Popen([sys.executable, "-c", POOL], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        workers = [int(p) for p in parent.stdout.readline().split()]
        assert len(workers) == 2
        for pid in workers:
            os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not any(pending(pid, signal.SIGTERM) for pid in workers), 10, "SIGTERM to reach them")
        assert alive(workers) == workers  # delivered, and left to the sweep (a worker it ends dies as it is)
    finally:
        parent.kill()
        parent.wait()
    wait_for(lambda: not alive(workers), 10, "the idle workers of a SIGKILLed parent to end")


TWO_TASKS = {"backend": "loky", "n_jobs": 2, "stack_rows": 64, "stack_tasks": 2}  # STACKED, as parallel settings


def test_a_stopped_sweep_ends_its_own_workers_and_leaves_the_callers_other_children_alive(tmp_path):
    """A notebook's sweep: in the caller's process (main thread, so its signal handlers are on),
    stopped by SIGINT at its first record, beside an unrelated child process of the caller."""
    out = tmp_path / "out"
    unrelated = subprocess.Popen(["sleep", "120"])
    sent = []

    def interrupt_at_first_record() -> None:
        wait_for(lambda: list(out.glob("durable/*/runs/*/metrics.json")), 240, "the first record")
        sent.append(stopping.loky_workers())
        os.kill(os.getpid(), signal.SIGINT)

    watcher = threading.Thread(target=interrupt_at_first_record, daemon=True)
    watcher.start()
    try:
        with pytest.raises(stopping.Interrupted):
            sweep.run(sweep.SweepRequest(DURABLE, [], out), TWO_TASKS, progress=False)
        watcher.join(timeout=10)
        assert sent and sent[0], "the sweep had no loky worker when it was stopped"
        wait_for(lambda: not alive(sent[0]), 10, "the sweep's workers to end")
        assert unrelated.poll() is None  # the caller's own child lives on
    finally:
        unrelated.kill()
        unrelated.wait()
