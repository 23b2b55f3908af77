"""A sweep on a real Dask cluster: `dask scheduler` and `dask worker` processes, the workers in a
private mount namespace with an empty tmpfs over the client's output root, so they cannot see (or
write into) the sweep folder and must get the data and hand back the records through Dask."""

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import wait_until

from benchmarks.stops_grid import every_number, saved_iterations
from nnscratch import results
from nnscratch.paths import CONF_DIR
from nnscratch.run import sweep
from nnscratch.run.dask import security

pytestmark = pytest.mark.slow  # end to end: the entry points in subprocesses

distributed = pytest.importorskip("distributed", reason="the dask extra is installed by .ci/run")

ROOT = CONF_DIR.parent
DASK = Path(sys.executable).parent / "dask"
GRID = {
    "name": "tiny",
    "axes": {
        "model": {"hidden": [[8], [16]]},
        "data": {"subset": [500], "scaling": ["unit", "none"]},
        "weights": ["uniform", "zeros"],
        "train": {"iterations": [20], "eval_every": [10]},
        "seed": [0, 1],
    },
}


def drop_where(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k not in ("seconds", "worker")}


def records(sweep_dir: Path) -> dict:
    return {d.name: results.read_run(d)["metrics"] for d in results.run_dirs(sweep_dir)}


class Cluster:
    """A scheduler and worker processes; each worker sees an empty tmpfs at `hidden` and writes a
    list of what it left there to <tmp>/worker<i>.files when it exits."""

    def __init__(
        self, tmp: Path, hidden: Path, workers: int, scheduler_env: dict | None = None, tls: dict | None = None
    ):
        self.tmp, self.hidden = tmp, hidden
        self.file = tmp / "scheduler.json"
        env = os.environ | (scheduler_env or {})
        # with tls (parallel.tls's {ca_file, cert_file, key_file}): every process shows the certificate
        certs = (
            ["--tls-ca-file", tls["ca_file"], "--tls-cert", tls["cert_file"], "--tls-key", tls["key_file"]]
            if tls
            else []
        )
        self.security = security(tls)
        self.scheduler = subprocess.Popen(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", self.file]
            + (["--protocol", "tls", *certs] if tls else []),
            env=env,
            cwd=tmp,
            stderr=subprocess.DEVNULL,
        )
        worker_env = {k: v for k, v in os.environ.items() if k != "NNSCRATCH_DATA_DIR"}  # no data of their own
        worker_env["XDG_CACHE_HOME"] = str(tmp / "empty-cache")
        self.workers = []
        for i in range(workers):
            home = tmp / f"worker{i}"
            home.mkdir()
            script = (
                f'mount -t tmpfs none "{hidden}" && "{DASK}" worker --scheduler-file "{self.file}" '
                f"--nthreads 1 --no-dashboard --name w{i} {shlex.join(certs)}; "
                f'find "{hidden}" -mindepth 1 > "{tmp}/worker{i}.files"'
            )
            self.workers.append(
                subprocess.Popen(
                    ["unshare", "-m", "sh", "-c", script], cwd=home, env=worker_env, stderr=subprocess.DEVNULL
                )
            )
        self.address = wait_until(
            lambda: self.file.is_file() and json.loads(self.file.read_text() or "{}").get("address"),
            60,
            "the scheduler to write its address",
        )
        with distributed.Client(self.address, security=self.security) as client:
            client.wait_for_workers(workers, timeout=60)

    def worker_pids(self) -> dict[str, int]:
        with distributed.Client(self.address, security=self.security) as client:
            names = {a: w["name"] for a, w in client.scheduler_info()["workers"].items()}
            return {names[a]: pid for a, pid in client.run(os.getpid).items()}

    def close(self) -> list[str]:
        """Stop everything; the files the workers left under the hidden folder."""
        try:
            with distributed.Client(self.address, security=self.security) as client:
                client.shutdown()
        finally:  # a shutdown that fails must not leave a worker running
            for p in [*self.workers, self.scheduler]:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
        return [line for f in self.tmp.glob("worker*.files") for line in f.read_text().split()]


@contextmanager
def cluster(tmp_path: Path, workers: int, **kw):
    hidden = tmp_path / "client"
    hidden.mkdir(exist_ok=True)
    c = Cluster(tmp_path, hidden, workers, **kw)
    try:
        yield c
    finally:
        c.left = c.close()


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory) -> Iterator[Cluster]:
    """A cluster of one worker shared by the tests that only run sweeps on it (none kills, stops or
    reconfigures it, or reads what its worker left): a cluster's processes take seconds to start."""
    with cluster(tmp_path_factory.mktemp("one_worker"), workers=1) as c:
        yield c


def hidden_folder(c: Cluster, tmp_path: Path) -> Path:
    """A test's own folder under the cluster's hidden one (its worker sees an empty tmpfs there)."""
    folder = c.hidden / tmp_path.name
    folder.mkdir()
    return folder


def test_a_cluster_without_the_client_disk_runs_the_grid_as_loky_does(tmp_path):
    loky, _ = sweep.run(
        sweep.SweepRequest(GRID, [], tmp_path / "loky"),
        {"backend": "loky", "n_jobs": 2, "stack_rows": 64, "stack_tasks": 2},
        progress=False,
    )
    out = tmp_path / "client" / "outputs"
    with cluster(tmp_path, workers=2) as c:
        parallel = {"backend": "dask", "scheduler": c.address, "stack_rows": 64, "stack_tasks": 2}
        dask, counts = sweep.run(sweep.SweepRequest(GRID, [], out), parallel, progress=False)
        pids = set(c.worker_pids().values())
    assert counts["finished"] == 16 and not counts["failed"]
    on_dask, on_loky = records(dask), records(loky)
    assert {r: drop_where(m) for r, m in on_dask.items()} == {r: drop_where(m) for r, m in on_loky.items()}
    workers = {int(m["worker"].split(":")[1]) for m in on_dask.values()}
    assert workers <= pids and len(workers) == 2  # both workers ran tasks, the client none
    assert c.left == []  # nothing written by a worker under the client's output root
    assert not (dask / ".prepared").exists()


def test_a_single_thread_cluster_runs_the_tasks_on_its_worker(one_worker, tmp_path):
    grid = GRID | {"axes": GRID["axes"] | {"seed": [0], "weights": ["uniform"]}}
    c = one_worker
    (pid,) = c.worker_pids().values()
    parallel = {"backend": "dask", "scheduler": c.address, "stack_rows": 0}
    sweep_dir, counts = sweep.run(
        sweep.SweepRequest(grid, [], hidden_folder(c, tmp_path) / "outputs"), parallel, progress=False
    )
    assert counts["finished"] == 4
    assert {m["worker"].split(":")[1] for m in records(sweep_dir).values()} == {str(pid)} != {str(os.getpid())}


def test_a_killed_worker_loses_no_run_and_a_run_that_kills_its_worker_fails(tmp_path, wait_for):
    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf)
    grid = {
        "name": "killer",
        "axes": {
            "model": {"hidden": [[32]]},
            "data": {"subset": [2000]},
            "train": {"iterations": [300]},
            "seed": list(range(8)),
        },
        "extra": {"fault": {"fault": ["kill"], "seed": [0]}},
    }
    (conf / "sweep" / "killer.yaml").write_text(yaml.safe_dump(grid))
    out = tmp_path / "client" / "outputs"
    with cluster(tmp_path, workers=2, scheduler_env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "2"}) as c:
        argv = [sys.executable, "-m", "experiments.sweep", "sweep=killer", "parallel=dask", "report=false"]
        argv += [f"parallel.scheduler={c.address}", "parallel.stack_rows=0", f"out_root={out}", f"--config-dir={conf}"]
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # kill a worker once the first run is recorded
        wait_for(lambda: list(out.glob("killer/*/runs/*/metrics.json")), 60, "the first run's record")
        os.kill(next(iter(c.worker_pids().values())), signal.SIGKILL)
        log, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1, log
    (sweep_dir,) = out.glob("killer/*")
    df = results.read_results(sweep_dir)
    assert len(df) == 9, log
    assert (df.loc[df.fault.isna(), "status"] == "finished").all(), log
    (error,) = df.loc[df.fault == "kill", "error"]
    assert "worker died while running it" in error
    assert "1 run(s) failed" in log


def test_the_client_sees_the_work_of_running_tasks_through_dask_events(one_worker, tmp_path, monkeypatch, long_grid):
    from nnscratch.run.progress import Progress

    monkeypatch.setattr(Progress, "TRAIL_EVERY", 0.2)
    parallel = {"backend": "dask", "scheduler": one_worker.address, "stack_rows": 0}
    out = hidden_folder(one_worker, tmp_path) / "outputs"
    sweep_dir, counts = sweep.run(sweep.SweepRequest(long_grid, [], out), parallel, progress=False)
    assert counts["finished"] == 1
    trail = pd.read_csv(sweep_dir / "progress.csv")
    running = trail[(trail["runs"] == 0) & (trail["done"] > 0)]
    assert len(running) >= 2 and running["done"].min() < 1


def kept(iterations: int) -> dict:
    """Four runs that, with STACKED, train as two tasks of two runs each (admitted one after the other)."""
    return {
        "name": "kept",
        "axes": {
            "model": {"hidden": [[32]]},
            "data": {"subset": [2000]},
            "train": {"iterations": [iterations], "eval_every": [50]},
            "seed": [0, 1, 2, 3],
        },
    }


STACKED = {"stack_rows": 32, "stack_tasks": 2}


def test_a_task_whose_dask_worker_is_killed_continues_from_the_checkpoint_it_sent_back(tmp_path, caplog):
    """Two tasks of two runs each (admitted one after the other), a checkpoint every 0.3 s sent back
    to the client: once both tasks have one on the client's disk, both workers are frozen (no task
    can end meanwhile) and one is killed; Dask's retry of its task continues from that checkpoint,
    and every record equals a straight sweep's."""
    import threading

    import psutil

    grid, stacked = kept(iterations=200), STACKED
    straight, _ = sweep.run(
        sweep.SweepRequest(grid, [], tmp_path / "loky"), {"backend": "loky", "n_jobs": 2, **stacked}, progress=False
    )
    out = tmp_path / "client" / "outputs"
    with cluster(tmp_path, workers=2) as c:
        parallel = {"backend": "dask", "scheduler": c.address, **stacked, "checkpoint_every": 0.3}
        done = []
        thread = threading.Thread(
            target=lambda: done.append(sweep.run(sweep.SweepRequest(grid, [], out), parallel, progress=False))
        )
        with caplog.at_level("WARNING"):
            thread.start()
            wait_until(lambda: len(list(out.glob("kept/*/checkpoints/*.ckpt"))) >= 2, 240, "two checkpoints", 0.05)
            workers = [psutil.Process(pid) for pid in c.worker_pids().values()]
            for w in workers:
                w.suspend()
            saved = list(out.glob("kept/*/checkpoints/*.ckpt"))
            workers[0].kill()
            workers[1].resume()
            thread.join(timeout=300)
    assert len(saved) == 2
    assert done, "the sweep did not end"
    (sweep_dir, counts) = done[0]
    assert counts["finished"] == 4
    assert "continues from its checkpoint" in caplog.text
    assert every_number(sweep_dir) == every_number(straight)
    assert not list(sweep_dir.glob("checkpoints/*.ckpt"))  # removed as their tasks ended


def test_a_stopped_dask_sweep_has_its_running_tasks_save_and_resume_continues_from_them(tmp_path, wait_for):
    """SIGINT to the client as the first run stops, while both tasks train on workers that cannot see
    its disk, with no periodic checkpoint due (checkpoint_every 600 s): each task saves at the stop, the client writes
    both checkpoints and exits 130; `resume=` on the same cluster continues from them, and every
    record equals a straight loky sweep's."""
    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf)
    grid = kept(iterations=1500)  # long enough to be stopped mid-task
    (conf / "sweep" / "kept.yaml").write_text(yaml.safe_dump(grid, sort_keys=False))
    loky = {"backend": "loky", "n_jobs": 2, **STACKED}
    straight, _ = sweep.run(sweep.SweepRequest(grid, [], tmp_path / "loky"), loky, progress=False)
    out = tmp_path / "client" / "outputs"
    with cluster(tmp_path, workers=2) as c:
        argv = [sys.executable, "-m", "experiments.sweep", "sweep=kept", f"out_root={out}", "parallel=dask"]
        argv += [f"parallel.scheduler={c.address}", "parallel.stack_rows=32", "parallel.stack_tasks=2"]
        argv += ["parallel.checkpoint_every=600", "adaptive.enabled=false", "report=false", f"--config-dir={conf}"]
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: list(out.glob("kept/*/runs/*/metrics.json")), 240, "the first run's record")
        os.kill(proc.pid, signal.SIGINT)  # at the first record: the tasks train their second runs
        said = "".join(proc.communicate(timeout=60))
        (sweep_dir,) = (out / "kept").iterdir()
        assert proc.returncode == 130, said[-3000:]
        assert "2 of 2 task(s) in flight saved their checkpoints" in said, said[-3000:]
        assert len(list(sweep_dir.glob("checkpoints/*.ckpt"))) == 2
        assert len(saved_iterations(sweep_dir)) == 4 - len(results.run_dirs(sweep_dir))  # each run kept
        argv.insert(-1, f"resume={sweep_dir}")
        resumed = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    said = resumed.stdout + resumed.stderr
    assert said.count("continues from its checkpoint") == 2, said[-3000:]
    assert every_number(sweep_dir) == every_number(straight)
    assert not list(sweep_dir.glob("checkpoints/*.ckpt"))


# ---------------------------------------------------------------- TLS


def certificates(folder: Path, name: str) -> dict:
    """A CA of its own and a certificate for 127.0.0.1 it signed, as PEM files in `folder` (what
    docs/distributed.md makes with openssl): parallel.tls's {ca_file, cert_file, key_file}."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def signed(subject: str, public_key, issuer: str, signer, ca: bool) -> x509.Certificate:
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            address = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
            cert = cert.add_extension(x509.SubjectAlternativeName([address]), critical=False)
        return cert.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = signed(f"{name} CA", ca_key.public_key(), f"{name} CA", ca_key, ca=True)
    cert = signed("127.0.0.1", key.public_key(), f"{name} CA", ca_key, ca=False)
    folder.mkdir(parents=True)
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "cert.pem").write_bytes(cert.public_bytes(pem))
    private = serialization.PrivateFormat.PKCS8
    (folder / "key.pem").write_bytes(key.private_bytes(pem, private, serialization.NoEncryption()))
    return {k: str(folder / f) for k, f in (("ca_file", "ca.pem"), ("cert_file", "cert.pem"), ("key_file", "key.pem"))}


def test_a_sweep_runs_over_tls_and_a_client_without_the_certificate_is_refused_before_any_run(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf)
    (conf / "sweep" / "tiny.yaml").write_text(yaml.safe_dump(GRID | {"axes": GRID["axes"] | {"seed": [0]}}))
    ours, theirs = certificates(tmp_path / "ours", "ours"), certificates(tmp_path / "theirs", "theirs")
    out = tmp_path / "client" / "outputs"

    def sweep_with(address: str, tls: dict | None, name: str) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-m", "experiments.sweep", "sweep=tiny", "parallel=dask", "report=false"]
        argv += ["adaptive.enabled=false", f"parallel.scheduler={address}", f"out_root={out / name}"]
        given = "{" + ", ".join(f"{k}: '{v}'" for k, v in tls.items()) + "}" if tls else "null"  # Hydra's dict syntax
        argv += [f"parallel.tls={given}", f"--config-dir={conf}"]
        return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)

    with cluster(tmp_path, workers=1, tls=ours) as c:
        assert c.address.startswith("tls://")
        refused = {
            "no certificate": sweep_with(c.address, None, "none"),
            "another CA's certificate": sweep_with(c.address, theirs, "theirs"),
            "plain TCP": sweep_with(c.address.replace("tls://", "tcp://"), None, "tcp"),
        }
        done = sweep_with(c.address, ours, "ours")
    for how, proc in refused.items():
        assert proc.returncode == 1, (how, proc.stderr[-2000:])
        lines = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
        assert len(lines) == 1, (how, proc.stderr[-3000:])
        line = lines[0]
        assert line.startswith("error: parallel.scheduler=") and "cannot connect" in line, (how, line)
        assert "Traceback" not in proc.stderr and proc.stderr.rstrip().endswith(line), (how, proc.stderr[-2000:])
        assert not list((out / how.split()[0]).glob("*/*/runs/*")) if how != "another CA's certificate" else True
    assert not [p for p in out.glob("*/tiny/*/runs/*") if "ours" not in str(p)], "a refused client ran something"
    assert done.returncode == 0, done.stderr[-2000:]
    (sweep_dir,) = (out / "ours" / "tiny").iterdir()
    assert len(results.read_results(sweep_dir)) == 8 and len(results.run_dirs(sweep_dir)) == 8


def test_a_users_network_file_reaches_workers_that_cannot_see_it(one_worker, tmp_path):
    """network=notebook on a cluster: the file sits in the folder the workers see as an empty tmpfs, so
    they can only run it from the copy the client uploads; its runs equal the loky backend's."""
    mine = hidden_folder(one_worker, tmp_path) / "my_net.py"  # hidden (created after the worker mounted its tmpfs)
    shutil.copy(ROOT / "examples" / "tutorial_net.py", mine)
    grid = {
        "name": "mine",
        "axes": {
            "data": {"subset": [500], "scaling": ["unit"]},
            "train": {"iterations": [20], "eval_every": [10]},
            "seed": [0],
        },
    }
    overrides = ["network=notebook", f"network.source={mine}"]
    parallel = {"backend": "dask", "scheduler": one_worker.address}
    dask, counts = sweep.run(sweep.SweepRequest(grid, overrides, tmp_path / "d"), parallel, progress=False)
    loky, _ = sweep.run(
        sweep.SweepRequest(grid, overrides, tmp_path / "l"), {"backend": "loky", "n_jobs": 1}, progress=False
    )
    assert counts["finished"] == 2 and not counts["failed"], counts
    on_dask = {r: drop_where(m) for r, m in records(dask).items()}
    assert on_dask == {r: drop_where(m) for r, m in records(loky).items()}
    sources = [results.read_run(d)["run"]["config"]["network"].get("source") for d in results.run_dirs(dask)]
    assert sorted(map(str, sources)) == sorted([str(mine), "None"])  # the record names the user's own path
