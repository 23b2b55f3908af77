"""A probe of what a Dask worker's death costs a sweep: a real `dask scheduler` and 2 `dask worker`
processes (each in its own mount namespace, an empty tmpfs over the client's output root: they share
no disk with the sweep), `python -m experiments.sweep sweep=smoke parallel=dask` (300 iterations on
3,000 images, stacked: several runs per task) run once straight, then again with one worker process
SIGKILLed mid-task once `--after` records are on disk; every record of the second sweep compared with
the straight one's (every metric but its wall time and worker, and the whole history.csv, as text).

    python -m benchmarks.stops_dask              # the worker killed at the 2nd record
    python -m benchmarks.stops_dask --after 8 'sweep.axes.data.subset=[10000]'   # overrides replace GRID's

Printed: the killed task's runs and how many had stopped (their records sent to the client) before
the kill, records on disk at the kill and kept after, the seconds the killed task had run, the age of
each checkpoint on the client's disk at the kill (with `parallel.checkpoint_every` > 0, sent back by
the tasks: what the killed task's retry continues from, if it had one) and whether the sweep said its
retry continued from one, both sweeps' wall and CPU time, and how many records are bit for bit the
straight sweep's. Needs root (unshare -m, mount). Nothing imports this module.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.stops_grid import every_number, records
from nnscratch.paths import CONF_DIR

DASK = Path(sys.executable).parent / "dask"
GRID = ["sweep=smoke", "sweep.axes.train.iterations=[300]", "sweep.axes.data.subset=[3000]"]
GRID += ["parallel=dask", "report=false", "adaptive.enabled=false"]


def start_cluster(tmp: Path, hidden: Path, workers: int = 2) -> tuple[str, list[subprocess.Popen]]:
    """(scheduler address, processes): a scheduler and `workers` single-thread workers (each with its
    nanny) that see an empty tmpfs at `hidden`."""
    file = tmp / "scheduler.json"
    argv = [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", file]
    procs = [subprocess.Popen(argv, cwd=tmp, stderr=subprocess.DEVNULL)]
    env = {k: v for k, v in os.environ.items() if k != "NNSCRATCH_DATA_DIR"}  # no data of their own
    for i in range(workers):
        script = f'mount -t tmpfs none "{hidden}" && exec "{DASK}" worker --scheduler-file "{file}" --nthreads 1'
        script += f" --no-dashboard --name w{i}"
        worker = ["unshare", "-m", "sh", "-c", script]
        procs.append(subprocess.Popen(worker, cwd=tmp, env=env, stderr=subprocess.DEVNULL))
    deadline = time.monotonic() + 60
    while not (file.is_file() and json.loads(file.read_text() or "{}").get("address")):
        if time.monotonic() > deadline:
            raise TimeoutError("no scheduler address within 60 s")
        time.sleep(0.1)
    address = json.loads(file.read_text())["address"]
    from distributed import Client

    with Client(address) as client:
        client.wait_for_workers(workers, timeout=60)
    return address, procs


def stop_cluster(address: str, procs: list[subprocess.Popen]) -> None:
    from distributed import Client

    with Client(address) as client:
        client.shutdown()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def executing_for(dask_worker) -> dict[str, float]:
    """On a worker: {task key: seconds it has been running}."""
    return {str(ts.key): time.time() - ts.start_time for ts in dask_worker.state.executing if ts.start_time}


def sweep(out: Path, address: str, overrides: list[str]) -> subprocess.Popen:
    """The sweep on the cluster: GRID, each of its keys `overrides` names replaced."""
    named = {o.split("=", 1)[0] for o in overrides}
    grid = [o for o in GRID if o.split("=", 1)[0] not in named] + overrides
    argv = [sys.executable, "-m", "experiments.sweep", *grid, f"parallel.scheduler={address}", f"out_root={out}"]
    return subprocess.Popen(argv, cwd=CONF_DIR.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen, started: float) -> tuple[float, float, str]:
    """(wall, CPU seconds of the client, its log) of a sweep, once it ended well."""
    stderr, _ = proc.communicate(timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"the sweep exited {proc.returncode}:\n{stderr[-2000:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.time() - started, usage.ru_utime + usage.ru_stime, stderr


def worker_cpu(address: str) -> float:
    """CPU seconds the cluster's worker processes have used so far."""
    from distributed import Client

    def cpu() -> float:
        t = os.times()
        return t.user + t.system

    with Client(address) as client:
        return sum(client.run(cpu).values())


def killed_sweep(out: Path, address: str, after: int, overrides: list[str]) -> dict:
    """The sweep with one worker process SIGKILLed once `after` records are on disk."""
    from distributed import Client

    proc, started = sweep(out, address, overrides), time.time()
    deadline = time.monotonic() + 600
    while len(records(next(iter(out.glob("smoke/*")), None))) < after:
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"{after} records never came")
        time.sleep(0.05)
    with Client(address) as client:
        running = client.run(executing_for)
        pids = client.run(os.getpid)
        names = {a: w["name"] for a, w in client.scheduler_info()["workers"].items()}
        victim = max((a for a in running if running[a]), key=lambda a: max(running[a].values()))
        (key, ran), killed_at = next(iter(running[victim].items())), time.time()
        before = records(next(out.glob("smoke/*")))
        ages = [killed_at - c.stat().st_mtime for c in out.glob("smoke/*/checkpoints/*.ckpt")]
        os.kill(pids[victim], signal.SIGKILL)
    wall, cpu, said = finish(proc, started)
    sweep_dir = next(out.glob("smoke/*"))
    after_all = records(sweep_dir)
    return {
        "sweep_dir": sweep_dir,
        "killed": f"{names[victim]} (pid {pids[victim]}) at {killed_at - started:.1f} s, running {key}",
        "seconds the killed task had run": round(ran, 1),
        "checkpoints on the client's disk at the kill, seconds old": [round(a, 1) for a in sorted(ages)],
        "the retry continued from a checkpoint": "continues from its checkpoint" in said,
        "records on disk at the kill": len(before),
        "of them lost after": sum(after_all.get(r) != t for r, t in before.items()),
        "records after": len(after_all),
        "wall s": round(wall, 1),
        "client CPU s": round(cpu, 1),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--after", type=int, default=2, help="records on disk when the worker is killed")
    parser.add_argument("overrides", nargs="*", help="overrides of the sweep, replacing GRID's of the same key")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        hidden = Path(tmp) / "client"
        hidden.mkdir()
        address, procs = start_cluster(Path(tmp), hidden)
        try:
            cpu0, started = worker_cpu(address), time.time()
            wall, cpu, _ = finish(sweep(hidden / "straight", address, args.overrides), started)
            straight = every_number(next((hidden / "straight").glob("smoke/*")))
            worker_s = worker_cpu(address) - cpu0
            print(f"straight: {len(straight)} records, {wall:.1f} s wall, client {cpu:.1f} s CPU", end=", ")
            print(f"workers {worker_s:.1f} s CPU", flush=True)
            row = killed_sweep(hidden / "killed", address, args.after, args.overrides)
            row["client CPU s"] = round(row["client CPU s"] - cpu, 1)  # (children's CPU adds up)
            numbers = every_number(row.pop("sweep_dir"))
            same = sum(numbers.get(r) == v for r, v in straight.items())
            row["records identical to the straight sweep's"] = f"{same}/{len(straight)}"
        finally:
            stop_cluster(address, procs)
    for k, v in row.items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main(sys.argv[1:])
