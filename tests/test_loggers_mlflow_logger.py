"""nnscratch.loggers.mlflow.logger against a small in-memory stand-in for MlflowClient (no server, no store):
the settings it applies, the runs already logged found page by page, the experiment found, made or restored,
and a failure said once, after which nothing more is asked of the tracker. tests/test_loggers.py runs the
same logger end to end against a real `mlflow server`."""

from __future__ import annotations

import logging
import os
from types import SimpleNamespace

import pytest

from nnscratch.loggers.mlflow.logger import MlflowLogger

SETTINGS = {"tracking_uri": "http://127.0.0.1:1", "experiment": "grid", "timeout": 3, "retries": 2}


class Page(list):
    """One page of search results, with the token of the next (None: the last)."""

    def __init__(self, runs, token=None):
        super().__init__(runs)
        self.token = token


def stored_run(run_id: str, folder: str | None, status: str = "FINISHED", written: str = "w1"):
    tags = {"nnscratch_written": written} | ({} if folder is None else {"run_dir": folder})
    return SimpleNamespace(info=SimpleNamespace(run_id=run_id, status=status), data=SimpleNamespace(tags=tags))


class Client:
    """What the logger asks MlflowClient, recorded; `experiment`: what get_experiment_by_name finds."""

    def __init__(self, pages=(), experiment=None):
        self.pages, self.experiment, self.calls = list(pages), experiment, []

    def search_runs(self, ids, query, max_results, page_token=None):
        self.calls.append(("search_runs", page_token))
        return self.pages.pop(0)

    def delete_run(self, run_id):
        self.calls.append(("delete_run", run_id))

    def get_experiment_by_name(self, name):
        self.calls.append(("get_experiment_by_name", name))
        return self.experiment

    def create_experiment(self, name, artifact_location, tags):
        self.calls.append(("create_experiment", name, artifact_location))
        return "new-id"

    def restore_experiment(self, experiment_id):
        self.calls.append(("restore_experiment", experiment_id))


class Unreachable:
    """A client whose every call fails as a tracker that is down does."""

    def __getattr__(self, name):
        raise ConnectionError("Connection refused\nwhile asking the tracker")


@pytest.fixture
def logger(monkeypatch):
    for name in ("MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_DISABLE_TELEMETRY"):
        monkeypatch.delenv(name, raising=False)  # restored after the test: the logger sets them
    return MlflowLogger(SETTINGS)


def test_settings_set_mlflows_http_timeout_and_retries(logger):
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "3"
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "2"
    assert logger.root is None  # a server keeps its own artifacts


def test_known_runs_reads_every_page_once_and_drops_duplicates(logger, tmp_path):
    first = Page([stored_run("m1", "r1"), stored_run("m2", None)], token="next")  # m2: the report's run
    second = Page([stored_run("m3", "r1"), stored_run("m4", "r2", status="RUNNING")])
    logger._client = Client([first, second])
    logger.experiments["grid"] = "exp"
    assert logger.known_runs(tmp_path) == {"r1": ("m1", "w1"), "r2": ("m4", None)}  # r2's logging never ended
    assert logger._client.calls == [("search_runs", None), ("search_runs", "next"), ("delete_run", "m3")]
    assert logger.known_runs(tmp_path) == {"r1": ("m1", "w1"), "r2": ("m4", None)}
    assert len(logger._client.calls) == 3  # searched once per process


def test_find_or_create_makes_a_missing_experiment_and_restores_a_deleted_one(logger):
    logger._client = Client()
    assert logger.find_or_create("grid") == "new-id"
    assert logger._client.calls[-1] == ("create_experiment", "grid", None)
    logger._client = Client(experiment=SimpleNamespace(experiment_id="7", lifecycle_stage="deleted"))
    assert logger.find_or_create("grid") == "7"
    assert logger._client.calls[-1] == ("restore_experiment", "7")


def test_experiment_id_asks_the_tracker_once_per_name(logger, tmp_path):
    logger._client = Client(experiment=SimpleNamespace(experiment_id="7", lifecycle_stage="active"))
    assert logger.experiment_id(tmp_path) == logger.experiment_id(tmp_path) == "7"
    assert logger._client.calls == [("get_experiment_by_name", "grid")]


def test_a_tracker_that_is_down_is_said_once_and_asked_nothing_more(logger, tmp_path, caplog):
    logger._client = Unreachable()
    with caplog.at_level(logging.WARNING):
        assert logger.log_new(tmp_path, []) == 0
    assert logger.problem == "ConnectionError: Connection refused"
    (said,) = caplog.messages
    assert said.startswith("mlflow: cannot log to http://127.0.0.1:1 (ConnectionError: Connection refused)")
    assert f"python -m experiments.log sweep_dir={tmp_path}" in said
    logger._client = None  # a client made again would be a new connection attempt: none must be made
    logger.log_report(tmp_path, tmp_path)
    assert logger.log_runs(tmp_path, ["r1"]) == 0
    assert logger._client is None and len(caplog.messages) == 1
