"""logger=mlflow: each run of a sweep as an MLflow run, in an experiment named after the grid.

An MLflow run of a nnscratch run holds
    tags       sweep (<grid>/<timestamp>), sweep_dir (the folder, absolute), run_dir (its run folder),
               nnscratch_run_id, cell (the axis values but the seed), seed, status, outcome,
               diagnosis (when the record has one), error, command, worker, nnscratch_written
    params     the resolved config flattened as results.csv names its axes (model.hidden = [10]),
               and each axis that is a group choice (weights = zeros)
    metrics    the history at every evaluation (step = iteration), then the final metrics the
               history has not (seconds, best_test_acc, ...) at the last iteration
    artifacts  the run folder: config.json, metrics.json, history.csv
The sweep's report folder goes into one more run, tagged kind = report. A run is looked up by its
sweep_dir and run_dir tags; it is logged again only when its record changed (nnscratch_written,
e.g. a failed run redone by a resume) or its logging did not end (an MLflow run left RUNNING).
results.csv gets the MLflow run id as a column (nnscratch.results.tracked_ids).

MLflow itself is imported on first use, not with this module (importing it costs seconds of CPU): a
sweep's logging thread does it (`warm`) while the first runs train. A SQLite store is opened in WAL
mode with synchronous=NORMAL (`logger.sqlite_wal`): its commits, 4 to 7 per run, then do not wait for
the disk, which was two thirds of a run's time. A folder of many runs still to log
(`python -m experiments.log`) can be split among `logger.bulk_workers` processes, each with its own
client (default 1: on a SQLite store, whose writes take turns, two were slower than one).
"""

from __future__ import annotations

import csv
import logging
import math
import os
import time
from collections.abc import Iterable
from pathlib import Path

from nnscratch import results
from nnscratch.config.checks import ConfigError
from nnscratch.config.schema import MlflowSettings, typed_block

log = logging.getLogger(__name__)
SCHEMES = ("sqlite:///", "http://", "https://", "file:", "postgresql", "mysql")
REPORT_FILES = ("report.md", "report.html", "figures", "tables", "sweep.json", "results.csv")
PAGE = 10_000  # runs per search request
BULK_CHUNK = 50  # runs a bulk worker logs per task (its ids are recorded as each task ends)
PROGRESS = 1000  # runs between two progress lines of a bulk log
# The UI shows a "model training" experiment's runs table and charts (not its GenAI traces page)
EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development"}
MAX_TAG = 5000  # characters of a tag value kept (MLflow refuses more than 8,000)


def check_settings(settings: dict) -> None:
    """ConfigError naming the bad key and the fix, before any work: types by the schema (MlflowSettings),
    then what a type cannot say."""
    settings, problems = typed_block("logger", MlflowSettings, settings)
    if problems:
        raise ConfigError("\n".join(problems))
    uri = settings["tracking_uri"]
    if not uri.startswith(SCHEMES):
        raise ConfigError(
            f"logger.tracking_uri: {uri!r} is not a tracking store; give sqlite:///<file>.db or http://host:port"
        )
    for key, least in (("timeout", 1), ("retries", 0), ("bulk_workers", 1)):
        if settings[key] < least:
            raise ConfigError(f"logger.{key}: must be a whole number >= {least}, got {settings[key]!r}")


def artifact_root(uri: str) -> str | None:
    """Where a SQLite store's artifacts go (beside the database: mlartifacts/); None: the server's own."""
    if not uri.startswith("sqlite:///"):
        return None
    db = Path(uri.removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True, exist_ok=True)  # SQLite makes the file, not its folder
    return (db.parent.resolve() / "mlartifacts").as_uri()


def sqlite_file(uri: str) -> Path | None:
    """The database file of a sqlite:/// store (absolute); None for any other store."""
    return Path(uri.removeprefix("sqlite:///")).resolve() if uri.startswith("sqlite:///") else None


FAST_STORES: set[Path] = set()  # SQLite files this process opens in WAL mode with synchronous=NORMAL


def commit_without_fsync(db: Path) -> None:
    """Every connection this process uses to the SQLite file `db` from now on: WAL journal (kept in the
    file), synchronous=NORMAL (a commit appends to the WAL and does not wait for the disk). SQLite's
    defaults (a rollback journal, synchronous=FULL) fsync several times per commit: 15 ms each on this
    machine's disk, 4 to 7 commits per run logged. The store stays consistent; a power cut (not a
    crash of the process) may lose the last commits, which the next `experiments.log` logs again.
    MLflow's own bulk import into SQLite (mlflow.store.fs2db) sets WAL and synchronous=OFF likewise.
    A SQLAlchemy pool hook (the engine is MLflow's, perhaps made already): no SQL touches MLflow's tables."""
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    if not FAST_STORES:
        event.listen(Pool, "checkout", fast_commits)
    FAST_STORES.add(db)


def fast_commits(connection, record, _proxy) -> None:
    """SQLAlchemy's checkout hook: WAL and synchronous=NORMAL, once per connection, on a connection to a
    file of FAST_STORES (which connection goes to which file: PRAGMA database_list)."""
    import sqlite3

    if record.info.get("nnscratch_checked") or not isinstance(connection, sqlite3.Connection):
        return
    record.info["nnscratch_checked"] = True
    files = {Path(row[2]).resolve() for row in connection.execute("PRAGMA database_list") if row[2]}
    if files & FAST_STORES:
        try:
            connection.execute("PRAGMA journal_mode=WAL")  # a no-op once the file is in WAL mode
        except sqlite3.OperationalError:  # locked by another process: it stays in its mode, still works
            log.debug("mlflow: SQLite store left in its journal mode (locked)")
        connection.execute("PRAGMA synchronous=NORMAL")


def experiment_name(sweep_dir: Path) -> str:
    """The grid's name; a Hydra multirun of experiments.train: train-multirun; single runs: train."""
    if (sweep_dir / "sweep.json").is_file():
        return results.read_sweep(sweep_dir)["name"]
    return "train-multirun" if results.is_multirun(sweep_dir) else "train"


def runs_root(sweep_dir: Path) -> Path:
    """The folder that holds the run folders: runs/ of a sweep, else the folder itself (a multirun's jobs,
    or the day folder of single runs)."""
    return sweep_dir / "runs" if (sweep_dir / "sweep.json").is_file() else sweep_dir


def has_results(sweep_dir: Path) -> bool:
    """A sweep or a multirun (which has a results.csv, or will), not the day folder of single runs."""
    return (sweep_dir / "sweep.json").is_file() or results.is_multirun(sweep_dir)


def run_folders(sweep_dir: Path) -> list[str]:
    """Names of the complete run folders of a sweep."""
    root = runs_root(sweep_dir)
    return sorted(d.name for d in root.iterdir() if not d.name.startswith(".") and (d / "metrics.json").is_file())


def text(value) -> str:
    """A param or tag value as results.csv writes an axis: lists as [64,32], None as null."""
    if isinstance(value, list | tuple):
        return "[" + ",".join(text(v) for v in value) + "]"
    return "null" if value is None else str(value)


def flatten(config: dict, prefix: str = "") -> dict:
    """{"model.hidden": [10], "data.subset": 1000, ...}: nested keys joined by dots, as results.csv's axes."""
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out |= flatten(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def run_axes(sweep_dir: Path, run: dict) -> dict:
    """The run's axis values, as its config.json records them (a multirun job: the keys it swept)."""
    return run.get("axes") or {}


def params_of(run: dict, axes: dict) -> list:
    """The flattened resolved config, and the axes that are group choices (weights = zeros): Params."""
    from mlflow.entities import Param

    flat = flatten(run["config"])
    return [Param(k, text(v)) for k, v in (flat | {a: v for a, v in axes.items() if a not in flat}).items()]


def tags_of(sweep_dir: Path, folder: str, run: dict, metrics: dict, axes: dict, written: str) -> dict:
    """The tags that find a run and say what it is and how it ended (module docstring)."""
    cell = " ".join(f"{a}={text(v)}" for a, v in axes.items() if a != "seed")
    tags = {
        "sweep": f"{sweep_dir.parent.name}/{sweep_dir.name}",
        "sweep_dir": str(sweep_dir),
        "run_dir": folder,
        "nnscratch_run_id": run["run_id"],
        "cell": cell,
        "seed": text(run["config"].get("seed")),
        "command": run.get("command"),
        "nnscratch_written": written,
    } | {k: metrics.get(k) for k in ("status", "outcome", "diagnosis", "error", "worker")}
    return {k: str(v)[:MAX_TAG] for k, v in tags.items() if v is not None}


def number(value) -> bool:
    """A value MLflow can plot: a number, not a bool, not NaN (NaN: not measured, e.g. dead units of tanh)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)


def metrics_of(metrics: dict, history: list[dict], when_ms: int) -> list:
    """The history as step metrics (step = iteration), then the final metrics the history lacks: Metrics."""
    from mlflow.entities import Metric

    out = [
        Metric(k, float(v), when_ms, int(row["iteration"]))
        for row in history
        for k, v in row.items()
        if k != "iteration" and number(v)
    ]
    logged = {k for row in history for k in row}
    last = int(metrics.get("iteration") or 0)
    return out + [Metric(k, float(v), when_ms, last) for k, v in metrics.items() if k not in logged and number(v)]


def read_history_numbers(run_dir: Path) -> list[dict]:
    """history.csv of a run folder as rows of numbers (a failed run's is empty; an empty cell or text: None).
    The csv module, not pandas: a tenth of the time per run, which counts at 10,000 runs."""
    path = run_dir / "history.csv"
    if not path.is_file():
        return []
    try:
        with open(path, newline="") as f:
            return [{k: as_number(v) for k, v in row.items()} for row in csv.DictReader(f)]
    except (UnicodeDecodeError, csv.Error) as err:  # edited or cut short: that run's problem (log_readable)
        raise results.DamagedRecord(f"{path}: cannot be read as CSV ({type(err).__name__}: {err})") from None


def as_number(cell: str) -> float | None:
    """A csv cell as pandas would read a number ('nan' included), or None."""
    try:
        return float(cell)
    except (ValueError, TypeError):  # TypeError: a row shorter than the header (csv gives None)
        return None


def written_stamp(run_dir: Path) -> str:
    """When the record was written (metrics.json's mtime, ns): a record rewritten gets a new one."""
    return str((run_dir / "metrics.json").stat().st_mtime_ns)


class MlflowLogger:
    """Logs runs and reports to one MLflow tracking store (conf/logger/mlflow.yaml)."""

    def __init__(self, settings: dict):
        check_settings(settings)
        self.uri, self.experiment = settings["tracking_uri"], settings.get("experiment")
        # Short HTTP timeouts, few retries: a tracker that is down must not hold a sweep up (MLflow's
        # defaults are 120 s and 7 retries with backoff, minutes per call).
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(settings["timeout"])
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(settings["retries"])
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        self.root = settings.get("artifact_root") or artifact_root(self.uri)
        self.settings, self.bulk_workers = settings, settings.get("bulk_workers", 1)
        self._client = None  # an MlflowClient, made on first use
        self.problem: str | None = None  # why logging stopped, once it did
        self.known: dict[Path, dict[str, tuple[str, str | None]]] = {}  # sweep: {run folder: (MLflow id, written)}
        self.experiments: dict[str, str] = {}

    @property
    def client(self):
        """The MlflowClient, made on first use (MLflow imported then; a new SQLite store made: seconds)."""
        if self._client is None:
            from mlflow import MlflowClient

            db = sqlite_file(self.uri)
            if db and self.settings.get("sqlite_wal", True):
                commit_without_fsync(db)
            self._client = MlflowClient(self.uri)
        return self._client

    def warm(self) -> None:
        """Import MLflow and open the store now (a sweep's logging thread does, while the first runs train).
        A store that is down is reported by the first run logged, with the folder to log later."""
        try:
            self.client.search_experiments(max_results=1)
        except Exception:  # noqa: BLE001, S110 - reported by log_runs, which knows the sweep folder
            pass

    def log_runs(self, sweep_dir: Path, folders: Iterable[str] | None = None) -> int:
        """Log these run folders (None: all) not in MLflow yet or changed since; how many were logged.
        Never raises: the first failure is reported once and stops logging for this process."""
        sweep_dir = Path(sweep_dir).resolve()
        logged = 0 if self.problem else self.log_new(sweep_dir, run_folders(sweep_dir) if folders is None else folders)
        if folders is None:
            self.record_untracked(sweep_dir)
        if folders is None and (sweep_dir / "results.csv").is_file():
            results.write_results(sweep_dir)  # every id logged so far into results.csv (some came after the sweep's)
        return logged

    def record_untracked(self, sweep_dir: Path) -> None:
        """The ids of runs found complete in MLflow but missing from tracked/mlflow.jsonl (a logger killed
        between a run's last call and its line, e.g. a bulk worker's chunk) written there, for results.csv."""
        tracked = results.tracked_ids(sweep_dir).get("mlflow_run_id", {})
        known = self.known.get(sweep_dir, {})
        lost = {f: rid for f, (rid, written) in known.items() if written and tracked.get(f) != rid}
        if lost and has_results(sweep_dir):
            results.append_tracked(sweep_dir, "mlflow", lost)

    def log_new(self, sweep_dir: Path, folders: Iterable[str]) -> int:
        """Log the folders not in MLflow yet, or changed since (their old entry deleted); how many.
        Many at once (more than BULK_CHUNK per bulk worker) are shared among bulk_workers processes."""
        logged = 0
        try:
            known = self.known_runs(sweep_dir)
            stamps = {f: written_stamp(runs_root(sweep_dir) / f) for f in folders}
            todo = {f: w for f, w in stamps.items() if known.get(f, (None, None))[1] != w}
            for folder in (f for f in todo if f in known):  # a record rewritten: its old entry goes
                self.client.delete_run(known.pop(folder)[0])
            if self.bulk_workers > 1 and len(todo) > BULK_CHUNK * self.bulk_workers:
                return self.log_in_processes(sweep_dir, todo)
            for folder, written in todo.items():
                rid = self.log_readable(sweep_dir, runs_root(sweep_dir) / folder, written)
                if rid is not None:
                    self.record_ids(sweep_dir, {folder: (rid, written)})
                    logged += 1
        except Exception as err:  # noqa: BLE001 - whatever the tracker raises, the sweep goes on
            self.give_up(sweep_dir, err)
        return logged

    def record_ids(self, sweep_dir: Path, ids: dict[str, tuple[str, str]]) -> None:
        """{run folder: (MLflow id, written)} just logged: known to this logger, and (a sweep's) for results.csv."""
        self.known[sweep_dir] |= ids
        if has_results(sweep_dir):
            results.append_tracked(sweep_dir, "mlflow", {folder: rid for folder, (rid, _) in ids.items()})

    def log_in_processes(self, sweep_dir: Path, todo: dict[str, str]) -> int:
        """Log `todo` ({run folder: written}) in chunks shared among bulk_workers processes; how many.
        Each chunk's ids are recorded as it ends, so a failure loses no logged run's id (and a run left
        RUNNING by a killed worker is logged again next time). A pool of its own, spawned: never the
        sweep's loky workers, which may still be running tasks when the logging thread gets here."""
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from multiprocessing import get_context

        exp, items = self.experiment_id(sweep_dir), list(todo.items())
        chunks = [dict(items[i : i + BULK_CHUNK]) for i in range(0, len(items), BULK_CHUNK)]
        settings = self.settings | {"bulk_workers": 1}
        logged, failure, started = 0, None, time.perf_counter()
        with ProcessPoolExecutor(self.bulk_workers, mp_context=get_context("spawn")) as pool:
            for done in as_completed([pool.submit(log_chunk, settings, sweep_dir, exp, c) for c in chunks]):
                ids, problem = done.result()
                self.record_ids(sweep_dir, ids)
                if (logged + len(ids)) // PROGRESS > logged // PROGRESS:
                    took = time.perf_counter() - started
                    log.info("mlflow: %d of %d runs logged in %.0f s", logged + len(ids), len(todo), took)
                logged += len(ids)
                failure = failure or problem
        if failure:
            raise RuntimeError(failure)
        return logged

    def log_run(self, sweep_dir: Path, run_dir: Path, written: str) -> str:
        """One run folder as a new MLflow run; its id. Left RUNNING until its last call succeeded."""
        record = results.read_run(run_dir)
        run, metrics = record["run"], record["metrics"]
        axes = run_axes(sweep_dir, run)
        end = (run_dir / "metrics.json").stat().st_mtime_ns // 1_000_000
        start = end - int(1000 * (metrics.get("seconds") or 0))
        tags = tags_of(sweep_dir, run_dir.name, run, metrics, axes, written)
        name = f"{tags['cell']} seed={tags['seed']}".strip() if axes else run["run_id"]
        created = self.client.create_run(self.experiment_id(sweep_dir), start_time=start, tags=tags, run_name=name)
        rid = created.info.run_id
        self.client.log_batch(
            rid, metrics=metrics_of(metrics, read_history_numbers(run_dir), end), params=params_of(run, axes)
        )
        self.artifacts(created.info.artifact_uri).log_artifacts(str(run_dir))
        self.client.set_terminated(rid, "FINISHED" if metrics.get("status") == "finished" else "FAILED", end_time=end)
        return rid

    def log_readable(self, sweep_dir: Path, run_dir: Path, written: str) -> str | None:
        """log_run, or None for a folder whose record is damaged (said in one line; the rest goes on)."""
        try:
            return self.log_run(sweep_dir, run_dir, written)
        except results.DamagedRecord as err:
            log.warning("%s: that run is not logged", err)
            return None

    def artifacts(self, artifact_uri: str):
        """The artifact repository of a run just created, from its artifact_uri: what
        MlflowClient.log_artifacts gets after a get_run of the whole run (its params, metrics and tags,
        half the call's time on a SQLite store) to learn that uri."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        return get_artifact_repository(artifact_uri, tracking_uri=self.uri)

    def known_runs(self, sweep_dir: Path) -> dict[str, tuple[str, str | None]]:
        """{run folder: (MLflow run id, its nnscratch_written)} of the sweep's runs already in MLflow,
        searched once per process; a run whose logging did not end counts as not written."""
        if sweep_dir in self.known:
            return self.known[sweep_dir]
        found, token = {}, None
        while True:
            page = self.client.search_runs(
                [self.experiment_id(sweep_dir)], f"tags.sweep_dir = '{sweep_dir}'", max_results=PAGE, page_token=token
            )
            for r in page:
                folder = r.data.tags.get("run_dir")
                if folder is None:  # the report's run
                    continue
                if folder in found:  # a duplicate left by a crash between create and record: drop it
                    self.client.delete_run(r.info.run_id)
                    continue
                complete = r.info.status != "RUNNING"
                found[folder] = (r.info.run_id, r.data.tags.get("nnscratch_written") if complete else None)
            token = page.token
            if not token:
                break
        self.known[sweep_dir] = found
        return found

    def experiment_id(self, sweep_dir: Path) -> str:
        """The id of the sweep's experiment (cached)."""
        name = self.experiment or experiment_name(sweep_dir)
        if name not in self.experiments:
            self.experiments[name] = self.find_or_create(name)
        return self.experiments[name]

    def find_or_create(self, name: str) -> str:
        """The id of experiment `name`, made if missing, restored if deleted."""
        exp = self.client.get_experiment_by_name(name)
        if exp is None:
            try:
                where = f"{self.root}/{name}" if self.root else None
                return self.client.create_experiment(name, artifact_location=where, tags=EXPERIMENT_TAGS)
            except Exception:  # noqa: BLE001 - made meanwhile by another process (a multirun's job)?
                exp = self.client.get_experiment_by_name(name)
                if exp is None:
                    raise
        if exp.lifecycle_stage == "deleted":
            self.client.restore_experiment(exp.experiment_id)
        return exp.experiment_id

    def log_report(self, sweep_dir: Path, report_dir: Path) -> None:
        """The report folder (and sweep.json, results.csv) as the artifacts of the sweep's report run."""
        if self.problem:
            return
        sweep_dir = Path(sweep_dir).resolve()
        try:
            exp = self.experiment_id(sweep_dir)
            query = f"tags.sweep_dir = '{sweep_dir}' and tags.kind = 'report'"
            found = self.client.search_runs([exp], query, max_results=1)
            tags = {"kind": "report", "sweep": f"{sweep_dir.parent.name}/{sweep_dir.name}", "sweep_dir": str(sweep_dir)}
            made = None if found else self.client.create_run(exp, tags=tags, run_name="report")
            rid = found[0].info.run_id if found else made.info.run_id
            for name in REPORT_FILES:
                path = Path(report_dir) / name
                if path.is_dir():
                    self.client.log_artifacts(rid, str(path), name)
                elif path.is_file():
                    self.client.log_artifact(rid, str(path))
            self.client.set_terminated(rid, "FINISHED")
        except Exception as err:  # noqa: BLE001 - as in log_runs
            self.give_up(sweep_dir, err)

    def give_up(self, sweep_dir: Path, err: Exception) -> None:
        """Report the failure once; log nothing more in this process."""
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        self.problem = f"{type(err).__name__}: {first[:300]}"
        log.warning(
            "mlflow: cannot log to %s (%s); going on without it. Log the folder later: "
            "python -m experiments.log sweep_dir=%s logger.tracking_uri=%s",
            self.uri,
            self.problem,
            sweep_dir,
            self.uri,
        )


def log_chunk(settings: dict, sweep_dir: Path, experiment_id: str, chunk: dict[str, str]) -> tuple[dict, str | None]:
    """A bulk worker's task: log these run folders ({folder: written}) as new runs of the experiment;
    ({folder: (MLflow id, written)} of those logged, the problem that stopped it or None)."""
    worker = MlflowLogger(settings)
    worker.experiments[worker.experiment or experiment_name(sweep_dir)] = experiment_id
    ids = {}
    try:
        for folder, written in chunk.items():
            if (rid := worker.log_readable(sweep_dir, runs_root(sweep_dir) / folder, written)) is not None:
                ids[folder] = (rid, written)
    except Exception as err:  # noqa: BLE001 - returned, reported once by the parent
        return ids, f"{type(err).__name__}: {str(err).strip()[:300]}"
    return ids, None
