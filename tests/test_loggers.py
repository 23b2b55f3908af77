"""logger=mlflow against a real `mlflow server` on a free localhost port (SQLite store in tmp), one
server for the module: a sweep logs every run with its params, metric history and artifacts; a
tracker lost mid-sweep (the server's port cut off) loses no record and a later re-log fills MLflow in
without duplicates; resume and multirun log what they add."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from mlflow import MlflowClient

from nnscratch import results
from nnscratch.config.checks import ConfigError
from nnscratch.loggers import make_logger
from nnscratch.loggers.mlflow import MlflowLogger
from nnscratch.loggers.mlflow import bulk as mlflow_bulk
from nnscratch.loggers.mlflow import store as mlflow_store
from nnscratch.loggers.mlflow.mapping import flatten, text
from nnscratch.loggers.process import started
from nnscratch.paths import CONF_DIR
from nnscratch.run import sweep

LOKY = {"backend": "loky", "n_jobs": 2, "scheduler": None, "stack_rows": 256, "stack_tasks": 2}
GRID = {  # the smoke grid shrunk: 8 runs of 20 iterations on 1,000 images, collapsed and ok ones
    "name": "logsmoke",
    "axes": {
        "model": {"hidden": [[10], [32]]},
        "data": {"subset": [1000], "scaling": ["unit", "none"]},
        "train": {"iterations": [20], "eval_every": [5]},
        "seed": [0, 1],
    },
}
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"


class Server:
    """`mlflow server` in its own process group on 127.0.0.1:<port>, its store and artifacts in `folder`."""

    def __init__(self, folder: Path):
        self.folder, self.port, self.proc = folder, free_port(), None
        self.uri = f"http://127.0.0.1:{self.port}"

    def start(self, wait: float = 180.0) -> None:
        argv = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(self.port)]
        argv += ["--backend-store-uri", f"sqlite:///{self.folder / 'mlflow.db'}", "--workers", "1"]
        argv += ["--artifacts-destination", str(self.folder / "artifacts")]
        log = open(self.folder / "server.log", "a")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + wait
        while time.time() < deadline:
            assert self.proc.poll() is None, (self.folder / "server.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        tail = (self.folder / "server.log").read_text()[-2000:]
        raise RuntimeError(f"mlflow server did not answer in {wait} s: {tail}")

    def kill(self) -> None:
        """SIGKILL the server and its workers (its process group)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class Plug:
    """A TCP relay from a free port of its own to the server's: the server as a client sees it, until
    `pull` closes the port and every connection through it (to the client, a server that died),
    while the server itself stays up for the next test (one start per module: each takes seconds)."""

    def __init__(self, port: int):
        self.target, self.sockets, self.pulled = port, [], False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.uri = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                inside, _ = self.listener.accept()
            except OSError:  # pulled
                return
            outside = socket.create_connection(("127.0.0.1", self.target))
            self.sockets += [inside, outside]
            for a, b in ((inside, outside), (outside, inside)):
                threading.Thread(target=pump, args=(a, b), daemon=True).start()

    def pull(self) -> None:
        self.pulled = True
        for s in [self.listener, *self.sockets]:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def pump(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes from a to b until either closes."""
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("mlflow"))
    s.start()
    yield s
    s.kill()


def settings(uri: str, **kw) -> dict:
    return {"name": "mlflow", "tracking_uri": uri, "experiment": None, "timeout": 5, "retries": 0} | kw


QUIET = {"capture_output": True, "text": True, "timeout": 300}
SLOW_SERVER = 30  # s per HTTP request: on a loaded 2-core machine the server took more than 5 s to answer


def logged_runs(uri: str, sweep_dir: Path, experiment: str = "logsmoke") -> dict:
    """{run folder: MLflow run} of a sweep's runs in the store (the report's run left out)."""
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    found = client.search_runs([exp.experiment_id], f"tags.sweep_dir = '{Path(sweep_dir).resolve()}'", max_results=1000)
    runs = [r for r in found if "run_dir" in r.data.tags]
    assert len({r.data.tags["run_dir"] for r in runs}) == len(runs), "a run folder logged twice"
    return {r.data.tags["run_dir"]: r for r in runs}


def run_grid(tmp_path: Path, logger, grid: dict = GRID, **kw) -> Path:
    sweep_dir, counts = sweep.run(
        sweep.SweepRequest(grid, [], tmp_path / "out", **kw), LOKY, progress=False, logger=logger
    )
    assert counts["finished"] == 8
    return sweep_dir


def check_run_in_mlflow(client: MlflowClient, run, sweep_dir: Path, row: pd.Series) -> None:
    """One MLflow run against its nnscratch record: tags, params, full metric history, artifacts."""
    run_dir = sweep_dir / "runs" / row["run_id"]
    record = results.read_run(run_dir)
    history = pd.read_csv(run_dir / "history.csv")
    assert run.data.tags["nnscratch_run_id"] == row["run_id"]
    assert run.data.tags["outcome"] == row["outcome"] and run.data.tags["seed"] == str(row["seed"])
    cell = f"model.hidden={row['model.hidden']} data.subset=1000 data.scaling={row['data.scaling']}"
    assert run.data.tags["cell"] == cell + " train.iterations=20 train.eval_every=5"
    assert run.data.params == {k: text(v) for k, v in flatten(record["run"]["config"]).items()}
    assert run.data.params["model.hidden"] == row["model.hidden"]
    for key in ("loss", "test_acc", "dead_l1"):
        steps = [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, key)]
        assert sorted(steps) == list(zip(history["iteration"], history[key].astype(float)))
    assert run.data.metrics["test_acc"] == pytest.approx(row["test_acc"])
    assert run.data.metrics["seconds"] == pytest.approx(row["seconds"])
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"config.json", "history.csv", "metrics.json"}
    assert row["mlflow_run_id"] == run.info.run_id
    assert run.info.status == "FINISHED"


def test_a_sweep_logs_every_run_with_params_history_and_artifacts(server, tmp_path):
    with started(settings(server.uri, timeout=SLOW_SERVER)) as tracker:  # as experiments.sweep does: a process
        sweep_dir = run_grid(tmp_path, tracker)
        (sweep_dir / "report.md").write_text("# report\n")
        tracker.log_report(sweep_dir, sweep_dir)  # the report folder, once, in a run of its own
    assert tracker.problem is None and tracker.child.returncode == 0
    table = results.read_results(sweep_dir)
    found = logged_runs(server.uri, sweep_dir)
    assert set(found) == set(table["run_id"]) and len(found) == 8
    assert set(table["outcome"]) == {"ok", "collapsed"}  # both kinds of run are checked
    client = MlflowClient(server.uri)
    for _, row in table.iterrows():
        check_run_in_mlflow(client, found[row["run_id"]], sweep_dir, row)
    assert len(client.search_runs([found[table["run_id"][0]].info.experiment_id], "tags.outcome = 'collapsed'")) >= 1
    # logging the report or the sweep again adds nothing
    again = MlflowLogger(settings(server.uri))  # a new process's logger: looks the runs up in MLflow
    again.log_report(sweep_dir, sweep_dir)
    assert again.log_runs(sweep_dir) == 0
    ids = {f: r.info.run_id for f, r in found.items()}
    assert {f: r.info.run_id for f, r in logged_runs(server.uri, sweep_dir).items()} == ids
    exp = found[table["run_id"][0]].info.experiment_id
    reports = client.search_runs([exp], f"tags.kind = 'report' and tags.sweep_dir = '{sweep_dir.resolve()}'")
    assert len(reports) == 1
    assert {"report.md", "results.csv", "sweep.json"} <= {a.path for a in client.list_artifacts(reports[0].info.run_id)}


def pull_at_first_logged(plug: Plug, out: Path, stop: threading.Event) -> None:
    """Cut the tracker off as soon as a run's MLflow id is recorded (tracked/mlflow.jsonl has a line):
    the rest of the sweep meets a dead tracker."""
    while not stop.wait(0.05):
        if any(f.stat().st_size for f in out.glob("*/*/tracked/mlflow.jsonl")):
            plug.pull()
            return


def test_a_tracker_lost_mid_sweep_loses_no_record_and_a_relog_fills_it_in(server, tmp_path, capfd):
    plug, stop = Plug(server.port), threading.Event()
    threading.Thread(target=pull_at_first_logged, args=(plug, tmp_path / "out", stop), daemon=True).start()
    started_at = time.time()
    with started(settings(plug.uri, timeout=SLOW_SERVER)) as tracker:  # a cut port refuses at once
        sweep_dir = run_grid(tmp_path, tracker)
    took, said = time.time() - started_at, capfd.readouterr().err  # the logging process's stderr is ours
    stop.set()
    assert plug.pulled, "the sweep ended before a run's MLflow id was recorded: the tracker was never cut"
    table = results.read_results(sweep_dir)
    assert len(table) == 8 and set(table["status"]) == {"finished"}  # every record is there
    assert tracker.problem and said.count("cannot log") == 1, said  # reported once
    before = table["mlflow_run_id"].notna().sum()
    assert 1 <= before < 8  # those logged before the cut
    assert took < 120
    relog = subprocess.run(
        [sys.executable, "-m", "experiments.log", f"sweep_dir={sweep_dir}", f"logger.tracking_uri={server.uri}"],
        cwd=CONF_DIR.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert relog.returncode == 0, relog.stderr
    assert f"logged {8 - before} run(s)" in relog.stdout
    found = logged_runs(server.uri, sweep_dir)
    table = results.read_results(sweep_dir)
    assert set(found) == set(table["run_id"])
    assert dict(zip(table["run_id"], table["mlflow_run_id"])) == {f: r.info.run_id for f, r in found.items()}


def test_the_sweep_command_logs_its_runs_and_report_from_its_logging_process(tmp_path):
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    argv = [sys.executable, "-m", "experiments.sweep", "sweep=smoke", "adaptive.enabled=false", f"out_root={tmp_path}"]
    argv += ["sweep.axes.train.iterations=[30]", "sweep.axes.model.hidden=[[10]]", "sweep.axes.seed=[0]"]
    done = subprocess.run([*argv, "logger=mlflow", f"logger.tracking_uri={uri}"], cwd=CONF_DIR.parent, **QUIET)
    assert done.returncode == 0, done.stderr
    (sweep_dir,) = (tmp_path / "smoke").iterdir()
    table, found = results.read_results(sweep_dir), logged_runs(uri, sweep_dir, "smoke")
    assert len(table) == 8 and dict(zip(table["run_id"], table["mlflow_run_id"])) == {
        f: r.info.run_id for f, r in found.items()
    }
    client = MlflowClient(uri)
    (report,) = client.search_runs([client.get_experiment_by_name("smoke").experiment_id], "tags.kind = 'report'")
    assert {"report.html", "figures"} <= {a.path for a in client.list_artifacts(report.info.run_id)}


def test_a_stopped_sweep_ends_its_logging_process_at_once(tmp_path):
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    with pytest.raises(KeyboardInterrupt), started(settings(uri)) as tracker:
        tracker.log_runs(tmp_path, [])
        raise KeyboardInterrupt  # a stop: the block ends by it
    assert tracker.child.returncode == -signal.SIGKILL  # ended, not waited for


def test_resume_logs_the_runs_it_adds_once(tmp_path):
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    sweep_dir = run_grid(tmp_path, None)  # logger=none: nothing logged
    first = MlflowLogger(settings(uri))
    sweep.run(sweep.SweepRequest(GRID, [], tmp_path / "out", resume=str(sweep_dir)), LOKY, progress=False, logger=first)
    before = {f: r.info.run_id for f, r in logged_runs(uri, sweep_dir).items()}
    assert len(before) == 8  # the earlier session's runs, logged by the resume
    lost = sorted(before)[0]
    os.rename(sweep_dir / "runs" / lost, tmp_path / "lost")  # as if its task had not ended
    counts = sweep.run(
        sweep.SweepRequest(GRID, [], tmp_path / "out", resume=str(sweep_dir)),
        LOKY,
        progress=False,
        logger=MlflowLogger(settings(uri)),
    )[1]
    assert counts["finished"] == 1
    after = {f: r.info.run_id for f, r in logged_runs(uri, sweep_dir).items()}
    assert set(after) == set(before) and after[lost] != before[lost]  # the redone run replaced its old entry
    assert {f: i for f, i in after.items() if f != lost} == {f: i for f, i in before.items() if f != lost}


def test_a_folder_logged_by_bulk_workers_has_every_run_once(tmp_path, monkeypatch):
    monkeypatch.setattr(mlflow_bulk, "BULK_CHUNK", 2)  # 8 runs: 4 chunks for 2 worker processes
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    sweep_dir = run_grid(tmp_path, None)
    tracker = MlflowLogger(settings(uri, bulk_workers=2))
    assert tracker.log_runs(sweep_dir) == 8 and tracker.problem is None
    table, found = results.read_results(sweep_dir), logged_runs(uri, sweep_dir)
    assert set(found) == set(table["run_id"])
    client = MlflowClient(uri)
    for _, row in table.iterrows():
        check_run_in_mlflow(client, found[row["run_id"]], sweep_dir, row)
    assert MlflowLogger(settings(uri, bulk_workers=2)).log_runs(sweep_dir) == 0
    assert journal_mode(tmp_path / "store.db") == "wal"  # commits without an fsync each (sqlite_wal: true)


def journal_mode(db: Path) -> str:
    with sqlite3.connect(db) as c:
        return c.execute("PRAGMA journal_mode").fetchone()[0]


def test_only_the_stores_own_sqlite_connections_commit_without_fsync(tmp_path, monkeypatch):
    monkeypatch.setattr(mlflow_store, "FAST_STORES", set())
    mlflow_store.commit_without_fsync(tmp_path / "store.db")
    store, other = (sqlite3.connect(tmp_path / name) for name in ("store.db", "other.db"))
    for c in (store, other):
        mlflow_store.fast_commits(c, SimpleNamespace(info={}), None)
    assert journal_mode(tmp_path / "store.db") == "wal" and journal_mode(tmp_path / "other.db") == "delete"
    assert store.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert other.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL, SQLite's default


def test_a_multirun_of_train_logs_each_job(tmp_path):
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    argv = [sys.executable, "-m", "experiments.train", "-m", "seed=0,1", "data.subset=500", "train.iterations=5"]
    argv += ["logger=mlflow", f"logger.tracking_uri={uri}", f"out_dir={tmp_path / 'multi'}"]
    done = subprocess.run(argv, cwd=CONF_DIR.parent, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("train-multirun").experiment_id])
    assert sorted(r.data.tags["seed"] for r in runs) == ["0", "1"]
    assert sorted(r.data.tags["cell"] for r in runs) == ["", ""] and all(r.data.tags["run_dir"] in "01" for r in runs)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"name": "wandb"}, "logger=wandb: unknown logger"),
        (settings("mlflow.db"), "logger.tracking_uri: 'mlflow.db' is not a tracking store"),
        (settings("sqlite:///x.db", timeout=0), "logger.timeout: must be a whole number >= 1"),
        (settings("sqlite:///x.db", sqlite_wal="maybe"), "logger.sqlite_wal: must be true or false, got 'maybe'"),
        (settings("sqlite:///x.db", timout=9), r"logger: unknown key 'timout' \(did you mean 'timeout'\?\)"),
    ],
)
def test_bad_logger_settings_are_refused_before_any_work(bad, message):
    with pytest.raises(ConfigError, match=message):
        make_logger(bad)
