"""A probe of what a stopped sweep loses on a real grid: the default grid reduced to one seed and 150
iterations (48 runs), run once straight, then stopped at several moments by each way of stopping it
(`STOPS`: Ctrl-C, SIGINT to the sweep alone, SIGTERM, SIGKILL to the sweep, SIGKILL to one of its
loky workers), each stopped sweep resumed (the sweep whose worker was killed goes on by itself), and
every record of every resumed sweep compared with the straight one's (every metric but its wall
time and worker, and the whole history.csv, as text: bit for bit).

    python -m benchmarks.stops_grid                        # 10/30/50/70/90 % x every stop
    python -m benchmarks.stops_grid --moments 50 --stops group-SIGINT,worker-SIGKILL

A moment is a share of the straight sweep's wall time. What a stop loses, per task in flight (each
holds runs/.busy/<pid> from its start, naming its checkpoint): the seconds its worker trained since
the task started or since its last checkpoint, whichever is later — after the stop ("lost"), and, for
comparison, as it was just before the signal ("lost without the stop's save": what the code before
the checkpoint at a clean stop lost). The tests use its every_number and saved_iterations.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from nnscratch import results
from nnscratch.paths import CONF_DIR
from nnscratch.run import checkpoint
from nnscratch.train import saved

GRID = ["sweep.axes.seed=[0]", "~sweep.extra", "train.iterations=150", "adaptive.enabled=false", "report=false"]


def start(out: Path, *extra: str) -> subprocess.Popen:
    """The reduced default grid in its own process group (as a terminal's foreground job)."""
    argv = [sys.executable, "-m", "experiments.sweep", *GRID, f"out_root={out}", *extra]
    return subprocess.Popen(
        argv, cwd=CONF_DIR.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def finish(proc: subprocess.Popen) -> None:
    _, stderr = proc.communicate(timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"the sweep exited {proc.returncode}:\n{stderr[-2000:]}")


def every_number(sweep_dir: Path) -> dict:
    """Each run's metrics (less wall time and worker) and its whole history, as written."""
    return {
        d.name: (
            {k: v for k, v in results.read_run(d)["metrics"].items() if k not in ("seconds", "worker")},
            (d / "history.csv").read_text(),
        )
        for d in results.run_dirs(sweep_dir)
    }


def saved_iterations(sweep_dir: Path) -> list[int]:
    """The iteration of every unfinished model in the sweep's checkpoints."""
    models = []
    for path in sweep_dir.glob("checkpoints/*.ckpt"):
        models += saved.decode(checkpoint.state_of(path))["models"]
    return [m["iteration"] for m in models if m["final"] is None]


def records(sweep_dir: Path | None) -> dict[str, int]:
    """{run id: mtime of its metrics.json} of the complete records of a sweep."""
    return {d.name: (d / "metrics.json").stat().st_mtime_ns for d in results.run_dirs(sweep_dir)} if sweep_dir else {}


def mtimes(folder: Path) -> dict[str, float]:
    found = {}
    for path in folder.glob("*") if folder.is_dir() else []:
        try:
            found[path.name] = path.stat().st_mtime
        except FileNotFoundError:  # its task ended while listing
            continue
    return found


def busy_workers(sweep_dir: Path) -> dict[int, tuple[str, float]]:
    """{worker pid: (its task's checkpoint name, when the task started)} of the tasks in flight."""
    folder, found = results.runs_dir(sweep_dir) / ".busy", {}
    for pid, started in mtimes(folder).items():
        try:
            found[int(pid)] = ((folder / pid).read_text(), started)
        except FileNotFoundError:
            continue
    return found


def busy_tasks(sweep_dir: Path) -> dict[str, float]:
    """{checkpoint name: when its task started} of the tasks in flight."""
    return dict(busy_workers(sweep_dir).values())


def seconds_lost(busy: dict[str, float], saved: dict[str, float], at: float) -> float:
    """Worker seconds trained since each busy task's start or its last checkpoint, until `at`."""
    return sum(max(0.0, at - max(started, saved.get(name, 0.0))) for name, started in busy.items())


STOPS = {  # name: (what the table calls it, the signal, sent to)
    "group-SIGINT": ("Ctrl-C (SIGINT to the group)", signal.SIGINT, "group"),
    "SIGINT": ("SIGINT to the sweep alone", signal.SIGINT, "sweep"),
    "SIGTERM": ("SIGTERM to the sweep", signal.SIGTERM, "sweep"),
    "SIGKILL": ("SIGKILL to the sweep", signal.SIGKILL, "sweep"),
    "worker-SIGKILL": ("SIGKILL to one loky worker", signal.SIGKILL, "worker"),
}


def send(proc: subprocess.Popen, sig: signal.Signals, to: str, victim: int | None) -> None:
    """The stop: to the sweep's process group, to the sweep alone, or to the worker `victim`."""
    if to == "group":
        os.killpg(proc.pid, sig)  # Ctrl-C in a terminal
    elif to == "sweep":
        os.kill(proc.pid, sig)
    elif victim:
        os.kill(victim, sig)


def stop_once(out: Path, delay: float, stop: str, straight: dict) -> dict:
    """One sweep stopped `delay` s after its start, then resumed; the row of the table."""
    label, sig, to = STOPS[stop]
    proc = start(out)
    time.sleep(delay)
    sweep_dir = next((out / "log_grid").iterdir(), None) if (out / "log_grid").is_dir() else None
    workers = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    before, busy = records(sweep_dir), busy_tasks(sweep_dir) if sweep_dir else {}
    saved_before = mtimes(sweep_dir / "checkpoints") if sweep_dir else {}
    victim = None
    if to == "worker":  # the worker whose task started first; only its task loses work, the other goes on
        working = busy_workers(sweep_dir) if sweep_dir else {}
        victim = min(working, key=lambda pid: working[pid][1], default=None)
        busy = dict([working[victim]]) if victim else {}
    sent = time.time()
    send(proc, sig, to, victim)
    proc.communicate(timeout=3600 if to == "worker" else 120)
    took = time.time() - sent
    psutil.wait_procs([psutil.Process(p) for p in workers if psutil.pid_exists(p)], timeout=10)
    sweep_dir = sweep_dir or next((out / "log_grid").iterdir())
    after = records(sweep_dir)
    saved_after = saved_before if to == "worker" else mtimes(sweep_dir / "checkpoints")  # a SIGKILL saves nothing
    lost = [r for r, t in before.items() if after.get(r) != t]
    resumed = time.time()
    if to != "worker":
        finish(start(out, f"resume={sweep_dir}"))
    numbers = every_number(sweep_dir)
    same = sum(numbers.get(r) == v for r, v in straight.items())
    return {
        "moment": f"{delay:.0f} s",
        "signal": label,
        "exit": proc.returncode,
        "s to exit": round(took, 1),
        "records on disk": len(after),
        "records lost": len(lost),
        "tasks in flight": len(busy),
        "s of work lost": round(seconds_lost(busy, saved_after, sent), 1),
        "s lost without the stop's save": round(seconds_lost(busy, saved_before, sent), 1),
        "resume s": round(time.time() - resumed, 1) if to != "worker" else "—",
        "resume identical": f"{same}/{len(straight)}",
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moments", default="10,30,50,70,90", help="shares of the straight sweep's wall time, %%")
    parser.add_argument("--stops", default=",".join(STOPS), help=f"of {', '.join(STOPS)}")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        finish(start(Path(tmp) / "straight"))
        wall = time.time() - t0
        straight = every_number(next((Path(tmp) / "straight" / "log_grid").iterdir()))
        print(f"straight: {len(straight)} records in {wall:.0f} s", flush=True)
        rows = []
        for share in (float(m) for m in args.moments.split(",")):
            for name in args.stops.split(","):
                out = Path(tmp) / f"{name}-{share:.0f}"
                row = stop_once(out, share / 100 * wall, name, straight)
                row = {"% of the wall time": f"{share:.0f} %"} | row
                rows.append(row)
                print(" | ".join(f"{k}: {v}" for k, v in row.items()), flush=True)
    print("\n| " + " | ".join(rows[0]) + " |\n|" + "--|" * len(rows[0]))
    for row in rows:
        print("| " + " | ".join(str(v) for v in row.values()) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
