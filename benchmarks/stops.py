"""A probe of how a sweep stops: start `python -m experiments.sweep sweep=smoke` (300 iterations on
3,000 images, so that tasks are in flight), wait for its second record, send one signal to the
client or its process group, and print what happened: exit status, seconds to exit, worker
processes still alive 1.5 s after, records on disk and rows of results.csv, and whether any record
was written after the exit.

    python -m benchmarks.stops SIGTERM client        # or SIGINT group, SIGHUP client, SIGKILL client
    python -m benchmarks.stops SIGTERM client dask   # a LocalCluster instead of the loky pool

The sweep starts as a shell's background job does, with SIGINT ignored. Nothing imports this module.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import psutil

from nnscratch.paths import CONF_DIR


def start(out: Path, backend: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "experiments.sweep", "sweep=smoke", f"out_root={out}", "report=false"]
    argv += ["adaptive.enabled=false"]
    argv += ["sweep.axes.train.iterations=[300]", "sweep.axes.data.subset=[3000]", f"parallel={backend}"]
    return subprocess.Popen(
        argv,
        cwd=CONF_DIR.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # (the log goes to stdout)
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )


def records(out: Path) -> list[Path]:
    return list(out.glob("smoke/*/runs/*/metrics.json"))


def alive(pids: list[int]) -> list[int]:
    return [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


def probe(sig: signal.Signals, target: str, backend: str, out: Path) -> dict:
    """Stop one sweep with `sig` sent to `target` (client | group); what happened."""
    proc = start(out, "local" if backend == "loky" else backend)
    deadline = time.monotonic() + 300
    while len(records(out)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    before, sent = len(records(out)), time.monotonic()
    (os.killpg if target == "group" else os.kill)(proc.pid, sig)
    stderr, _ = proc.communicate(timeout=120)
    took = time.monotonic() - sent
    time.sleep(1.5)
    orphans, at_exit = alive(children), len(records(out))
    time.sleep(3)
    (sweep_dir,) = (out / "smoke").iterdir()
    table = sweep_dir / "results.csv"
    return {
        "signal": f"{sig.name} to the {target}",
        "backend": backend,
        "exit": proc.returncode,
        "seconds to exit": round(took, 1),
        "workers alive 1.5 s after": len(orphans),
        "records at signal": before,
        "records after": at_exit,
        "results.csv rows": len(pd.read_csv(table)) if table.is_file() else None,
        "records written 3 s after": len(records(out)) - at_exit,
        "says how to resume": "resume with:" in stderr,
        "tasks that saved a checkpoint at the stop": saved_at_stop(stderr),
    }


def saved_at_stop(stderr: str) -> str:
    """'n of m', as the stopping sweep said it (nnscratch.run.loky.save_checkpoints_now), or '-'."""
    said = re.search(r"(\d+) of (\d+) task\(s\) in flight saved", stderr)
    return f"{said[1]} of {said[2]}" if said else "-"


def main(argv: list[str]) -> None:
    sig, target = signal.Signals[argv[0]], argv[1]
    backend = argv[2] if len(argv) > 2 else "loky"
    with tempfile.TemporaryDirectory() as tmp:
        for key, value in probe(sig, target, backend, Path(tmp)).items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main(sys.argv[1:])
