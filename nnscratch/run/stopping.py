"""How a sweep stops: every signal that asks it to (SIGINT to its group or to it alone, SIGTERM,
SIGHUP, a second Ctrl-C) ends it the same clean way, no worker outlives it, and no two processes
write one sweep folder.

- `stop_on_signals`: SIGINT, SIGTERM and SIGHUP raise `Interrupted` in the main thread, once, whatever
  handler the process inherited (a shell that starts a job in the background leaves SIGINT ignored,
  and `kill -INT` then did nothing). The sweep then stops its workers, writes results.csv and says how
  to resume. A second signal while it does so ends the process FORCE_AFTER seconds later at the
  latest, its worker processes killed. SIGHUP inherited as ignored (`nohup`) stays ignored.
- `before_stopping`: what runs in the signal handler before `Interrupted` is raised, while the
  workers still live (joblib SIGKILLs its workers as the interrupt goes through it): the loky
  backend asks its busy workers for their checkpoints there (nnscratch.run.loky.save_checkpoints_now).
- `save_when_interrupted`: in a worker, SIGINT, SIGTERM and SIGHUP (the sweep's request, or a
  signal sent to the whole process group: Ctrl-C, `kill -TERM -<pgid>`, systemd, a closed terminal)
  ask its task to save its checkpoint at the end of the iteration instead of ending it mid-iteration;
  the sweep, which gets the signal too, then stops the worker. A worker that got SIGTERM or SIGHUP
  and is not stopped within HOLD_AFTER_SAVE seconds (the signal was sent to it alone) ends itself by
  that signal, as it would have without the handler.
- `end_workers`: the sweep's own worker processes (loky's pool, killed, as they leave SIGTERM to the
  sweep; a LocalCluster it started: `owning`, terminated) are ended at a stop, never another child of
  the calling process (a notebook's).
- `watch_parent`: a worker process exits when the process that started it is gone (the client
  SIGKILLed or out of memory), instead of training on and writing into a folder nobody owns.
- `sweep_lock`: `<sweep dir>/sweep.lock` holds host:pid:start of the process writing the sweep; a
  second process (a `resume=` started too early) is refused while that process lives.
"""

from __future__ import annotations

import errno
import logging
import os
import shlex
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from nnscratch.config.checks import ConfigError

log = logging.getLogger(__name__)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
FORCE_AFTER = 5.0  # seconds between a second signal and the hard end of the process
SAVE_WAIT = 5.0  # seconds a stopping sweep waits for the checkpoints of its tasks in flight
HOLD_AFTER_SAVE = 30.0  # seconds a worker waits, once its checkpoint is saved, to be stopped
PARENT_EVERY = 0.5  # seconds between a worker's looks at its parent


class Interrupted(KeyboardInterrupt):
    """A sweep stopped by a signal: which one, and (once known) the folder to resume."""

    def __init__(self, signum: int = signal.SIGINT, sweep_dir: Path | None = None):
        super().__init__(signal.Signals(signum).name)
        self.signum, self.sweep_dir = signum, sweep_dir

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as a shell reports a process a signal ended."""
        return 128 + self.signum


def interrupted(err: KeyboardInterrupt, sweep_dir: Path) -> Interrupted:
    """The interrupt `err` (a plain KeyboardInterrupt: SIGINT) with the sweep folder it stopped."""
    return Interrupted(getattr(err, "signum", signal.SIGINT), Path(sweep_dir))


class DiskFull(Exception):
    """The disk holding a sweep folder is full: its message names the folder, what was being written,
    the space left and about how much more the rest needs, and how to go on."""


def is_disk_full(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT)


@contextmanager
def stop_when_full(sweep_dir: Path, what: str, runs_left: Callable[[], int] = lambda: 0) -> Iterator[None]:
    """Turn a full disk met in the block (OSError ENOSPC or EDQUOT, in this process or a worker's)
    into DiskFull: every write of a sweep is atomic or a whole journal line (nnscratch.results), so
    what is written stays readable and `resume=` goes on once there is room. `what`: what the block
    writes (said)."""
    try:
        yield
    except OSError as err:
        if not is_disk_full(err):
            raise
        from nnscratch.results import disk_full_message  # (pandas: imported when needed only)

        raise DiskFull(disk_full_message(Path(sweep_dir), err, what, runs_left())) from None


def resume_hint(stop: Interrupted, overrides: list[str]) -> str:
    """What an interrupted sweep tells its user: what stopped it, what is kept, how to go on."""
    kept = [o for o in overrides if not o.startswith("resume=")]
    command = " ".join(["python -m experiments.sweep", *(shlex.quote(o) for o in kept), f"resume={stop.sweep_dir}"])
    return (
        f"interrupted by {stop.name}: every run that had stopped is recorded in {stop.sweep_dir}/results.csv; "
        f"resume with:\n  {command}"
    )


_owners: list[Callable[[], list[int]]] = []  # each names worker processes of the running sweep


@contextmanager
def owning(pids: Callable[[], list[int]]) -> Iterator[None]:
    """While the block runs, the processes `pids()` names (a LocalCluster's workers) are the sweep's:
    end_workers ends them."""
    _owners.append(pids)
    try:
        yield
    finally:
        _owners.remove(pids)


def loky_workers() -> list[int]:
    """The worker processes of joblib's loky executor in this process (the sweep's loky pool)."""
    from joblib.externals.loky import reusable_executor

    return list(getattr(reusable_executor._executor, "_processes", None) or {})


def sweep_workers() -> list[psutil.Process]:
    """This process's children that are the sweep's workers (loky's, and those `owning` names), with
    their own children; never another child of the caller (a notebook's server, a shell)."""
    named = set(loky_workers()).union(*(owner() for owner in _owners))
    workers = [c for c in psutil.Process().children(recursive=True) if c.pid in named]
    for worker in list(workers):
        try:
            workers += worker.children(recursive=True)
        except psutil.NoSuchProcess:
            continue
    return workers


def end_workers(grace: float = 3.0) -> list[int]:
    """Kill loky's workers (a checkpointing task's worker takes SIGTERM as a request to save: see
    save_when_interrupted) and terminate the sweep's other worker processes (sweep_workers), killing
    those still alive after `grace` seconds; their pids."""
    children, pool = sweep_workers(), set(loky_workers())
    for child in children:
        try:
            child.kill() if child.pid in pool else child.terminate()
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(children, timeout=grace)
    for child in alive:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            continue
    return [c.pid for c in children]


def force_exit(signum: int) -> None:
    """End this process now, its children first: the clean stop took too long."""
    log.error("still stopping %.0f s after the second signal: ending the sweep and its workers now", FORCE_AFTER)
    end_workers(grace=1.0)
    os._exit(128 + signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP raise Interrupted in the main thread (once; see the module doc).
    Outside the main thread, where Python cannot take signals, it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    first: list[int] = []

    def handle(signum: int, frame) -> None:
        if not first:
            first.append(signum)
            run_hooks()
            raise Interrupted(signum)
        log.warning("%s again: the sweep is stopping; it ends within %.0f s", signal.Signals(signum).name, FORCE_AFTER)
        timer = threading.Timer(FORCE_AFTER, force_exit, args=(first[0],))
        timer.daemon = True
        timer.start()

    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    for s in STOP_SIGNALS:
        if not (s == signal.SIGHUP and previous[s] == signal.SIG_IGN):  # nohup asked to outlive the terminal
            signal.signal(s, handle)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


_hooks: list[Callable[[], None]] = []  # before_stopping's, innermost last


@contextmanager
def before_stopping(hook: Callable[[], None]) -> Iterator[None]:
    """While the block runs, a stop signal calls `hook()` before it raises Interrupted (its own
    bound on time: the stop waits for it)."""
    _hooks.append(hook)
    try:
        yield
    finally:
        _hooks.remove(hook)


def run_hooks() -> None:
    for hook in reversed(_hooks):
        try:
            hook()
        except Exception:  # the stop goes on whatever a hook does
            log.exception("while stopping")


WORKER_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # a checkpointing worker's requests to save
ENDING = (signal.SIGTERM, signal.SIGHUP)  # those of them that end the worker if its sweep does not
_save_asked = threading.Event()
_ending: list[tuple[int, float]] = []  # the ending signal this worker got, and when it ends by it


def ask_to_save(signum: int, frame) -> None:
    if _ending and time.monotonic() >= _ending[0][1]:  # sent again by the timer below: not stopped in time
        end_by(_ending[0][0])
    _save_asked.set()
    if signum in ENDING and not _ending:
        _ending.append((signum, time.monotonic() + HOLD_AFTER_SAVE))
        timer = threading.Timer(HOLD_AFTER_SAVE, os.kill, args=(os.getpid(), signum))  # (a handler is set
        timer.daemon = True  # in the main thread only: this one's is, as the signal comes again)
        timer.start()


def end_by(signum: int) -> None:
    """End this process by `signum`, as it would have ended without a handler (main thread)."""
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def save_when_interrupted() -> Callable[[], bool]:
    """In a worker process, as a task that checkpoints starts: from now on SIGINT, SIGTERM and SIGHUP
    only ask for a checkpoint (Stack.train saves at the end of the iteration:
    nnscratch.run.task.saver); whether it was asked since this task started (or before, by an ending
    signal). Stays so between tasks: an idle worker leaves those signals to its sweep too (a dead loky
    worker would break the pool and have the busy ones killed mid-save). SIGHUP inherited as ignored
    (`nohup`) stays ignored."""
    leave_signals_to_sweep()
    if not _ending:  # a worker an ending signal reached while idle saves at once and trains no further
        _save_asked.clear()
    return _save_asked.is_set


def leave_signals_to_sweep() -> None:
    """In a worker's main thread: SIGINT, SIGTERM and SIGHUP ask for a checkpoint (ask_to_save)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for s in WORKER_SIGNALS:
        now = signal.getsignal(s)
        if now is not ask_to_save and not (s == signal.SIGHUP and now == signal.SIG_IGN):
            signal.signal(s, ask_to_save)


def start_worker(checkpointing: bool) -> None:
    """A loky worker's initializer, before its first task: it watches its parent (watch_parent: loky's
    own idle workers outlive a SIGKILLed parent until their idle timeout, 300 s), and in a
    checkpointing sweep leaves the stop signals to the sweep, as its busy neighbours do (a worker that
    a group's SIGTERM ended before it ever ran a task would break the pool: loky then kills the busy
    ones mid-save)."""
    watch_parent()
    if checkpointing:
        leave_signals_to_sweep()


def hold_after_save() -> None:
    """In a worker whose task saved its checkpoint at a stop: train no further, wait to be stopped
    (its sweep ends it within seconds). Not stopped after HOLD_AFTER_SAVE seconds (the signal was
    sent to the worker alone): SIGTERM or SIGHUP end the worker by that signal (its sweep retries
    the task from the checkpoint), SIGINT ends its task as an interrupt."""
    time.sleep(HOLD_AFTER_SAVE)
    if _ending:
        end_by(_ending[0][0])
    raise KeyboardInterrupt("the task saved its checkpoint and was not stopped")


_watching: set[int] = set()  # the processes whose parent a watchdog already watches


def watch_parent(every: float = PARENT_EVERY) -> None:
    """In a worker process: exit as soon as the process that started it is gone. Once per process."""
    if os.getpid() in _watching:
        return
    _watching.add(os.getpid())
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)  # orphaned (its parent was killed): nobody would read or own what it writes

    threading.Thread(target=watch, name="nnscratch-parent-watch", daemon=True).start()


def holder_text() -> str:
    """host:pid:start of this process, as the lock file holds it."""
    return f"{socket.gethostname()}:{os.getpid()}:{psutil.Process().create_time():.2f}"


def holder_alive(text: str) -> bool:
    """Whether the process a lock file names still runs (on another host: assumed, it cannot be seen)."""
    host, pid, start = (text.strip().split(":") + ["", "", ""])[:3]
    if host != socket.gethostname():
        return True
    try:
        return f"{psutil.Process(int(pid)).create_time():.2f}" == start  # a reused pid is another process
    except (psutil.NoSuchProcess, ValueError):
        return False


@contextmanager
def sweep_lock(sweep_dir: Path) -> Iterator[Path]:
    """Hold `<sweep_dir>/sweep.lock` while the block runs; ConfigError if a live process holds it."""
    path = Path(sweep_dir) / "sweep.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            held = path.read_text() if path.exists() else ""
            just_made = not held and time.time() - path.stat().st_mtime < 10  # its holder is writing it now
            if just_made or (held and holder_alive(held)):
                raise ConfigError(
                    f"{sweep_dir}: refusing, process {held.strip()} (host:pid:start) is still writing this sweep. "
                    f"Wait for it to end or stop it (kill -INT <pid>); if it is gone for good, delete {path}."
                ) from None
            path.unlink(missing_ok=True)  # its holder is dead: the lock is stale
    with os.fdopen(fd, "w") as f:
        f.write(holder_text() + "\n")
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
