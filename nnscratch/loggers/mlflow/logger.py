"""MlflowLogger: the runs of a sweep folder not in MLflow yet (or changed since) logged, each once, and
its report; a failure said once, and nothing more logged by this process."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from nnscratch import results
from nnscratch.loggers.mlflow import bulk
from nnscratch.loggers.mlflow.mapping import (
    experiment_name,
    has_results,
    metrics_of,
    params_of,
    read_history_numbers,
    run_axes,
    run_folders,
    runs_root,
    tags_of,
    written_stamp,
)
from nnscratch.loggers.mlflow.store import artifact_root, check_settings, commit_without_fsync, sqlite_file

log = logging.getLogger(__name__)
REPORT_FILES = ("report.md", "report.html", "figures", "tables", "sweep.json", "results.csv")
PAGE = 10_000  # runs per search request
# The UI shows a "model training" experiment's runs table and charts (not its GenAI traces page)
EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development"}


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
            known, root = self.known_runs(sweep_dir), runs_root(sweep_dir)
            stamps = {f: written_stamp(root / f) for f in folders}
            todo = {f: w for f, w in stamps.items() if known.get(f, (None, None))[1] != w}
            for folder in (f for f in todo if f in known):  # a record rewritten: its old entry goes
                self.client.delete_run(known.pop(folder)[0])
            if self.bulk_workers > 1 and len(todo) > bulk.BULK_CHUNK * self.bulk_workers:
                return bulk.log_in_processes(self, sweep_dir, todo)
            for folder, written in todo.items():
                rid = self.log_readable(sweep_dir, root / folder, written)
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

    def log_run(self, sweep_dir: Path, run_dir: Path, written: str) -> str:
        """One run folder as a new MLflow run; its id. Left RUNNING until its last call succeeded."""
        record = results.read_run(run_dir)
        run, metrics = record["run"], record["metrics"]
        axes = run_axes(run)
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
