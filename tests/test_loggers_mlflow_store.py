"""nnscratch.loggers.mlflow.store: the settings refused before any work, where a SQLite store's artifacts go,
and a SQLite store's connections switched to WAL with synchronous=NORMAL (and no other file's)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest

from nnscratch.config.checks import ConfigError
from nnscratch.loggers.mlflow import store


def settings(**kw) -> dict:
    return {"name": "mlflow", "tracking_uri": "sqlite:///x.db", "timeout": 5, "retries": 0} | kw


@pytest.mark.parametrize(
    "uri", ["sqlite:///outputs/mlflow.db", "http://127.0.0.1:5000", "https://host", "file:/tmp/m", "postgresql://h/db"]
)
def test_a_tracking_store_uri_is_accepted(uri):
    assert store.check_settings(settings(tracking_uri=uri)) is None


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"tracking_uri": "mlflow.db"}, r"^logger\.tracking_uri: 'mlflow\.db' is not a tracking store; give sqlite"),
        ({"timeout": 0}, r"^logger\.timeout: must be a whole number >= 1, got 0$"),
        ({"retries": -1}, r"^logger\.retries: must be a whole number >= 0, got -1$"),
        ({"bulk_workers": 0}, r"^logger\.bulk_workers: must be a whole number >= 1, got 0$"),
        ({"timout": 9}, r"logger: unknown key 'timout' \(did you mean 'timeout'\?\)"),
    ],
)
def test_bad_settings_are_refused_in_one_line_naming_the_key(bad, message):
    with pytest.raises(ConfigError, match=message):
        store.check_settings(settings(**bad))


def test_a_sqlite_stores_artifacts_go_beside_its_database_whose_folder_is_made(tmp_path):
    db = tmp_path / "new" / "folder" / "store.db"
    assert store.artifact_root(f"sqlite:///{db}") == (tmp_path / "new" / "folder" / "mlartifacts").as_uri()
    assert db.parent.is_dir() and not db.exists()  # SQLite makes the file itself


def test_a_server_keeps_its_own_artifacts():
    assert store.artifact_root("http://127.0.0.1:5000") is None


def test_the_database_file_of_a_sqlite_store_is_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert store.sqlite_file("sqlite:///outputs/m.db") == tmp_path.resolve() / "outputs" / "m.db"
    assert store.sqlite_file("https://host/") is None


def test_the_pool_hook_is_set_once_and_each_file_is_remembered(monkeypatch):
    from sqlalchemy import event

    hooks = []
    monkeypatch.setattr(store, "FAST_STORES", set())
    monkeypatch.setattr(event, "listen", lambda *args: hooks.append(args))
    store.commit_without_fsync(Path("/a.db"))
    store.commit_without_fsync(Path("/b.db"))
    assert [h[1:] for h in hooks] == [("checkout", store.fast_commits)]
    assert store.FAST_STORES == {Path("/a.db"), Path("/b.db")}


def pragma(connection: sqlite3.Connection, name: str):
    return connection.execute(f"PRAGMA {name}").fetchone()[0]


def test_a_connection_to_a_fast_store_commits_in_wal_without_waiting_for_the_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "FAST_STORES", {(tmp_path / "store.db").resolve()})
    fast, other = sqlite3.connect(tmp_path / "store.db"), sqlite3.connect(tmp_path / "other.db")
    for connection in (fast, other):
        store.fast_commits(connection, SimpleNamespace(info={}), None)
    assert (pragma(fast, "journal_mode"), pragma(fast, "synchronous")) == ("wal", 1)  # 1: NORMAL
    assert (pragma(other, "journal_mode"), pragma(other, "synchronous")) == ("delete", 2)  # SQLite's defaults


def test_a_connection_is_tuned_once_and_other_drivers_are_left_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "FAST_STORES", {(tmp_path / "store.db").resolve()})
    checked = SimpleNamespace(info={"nnscratch_checked": True})
    connection = sqlite3.connect(tmp_path / "store.db")
    store.fast_commits(connection, checked, None)
    assert pragma(connection, "journal_mode") == "delete"
    record = SimpleNamespace(info={})
    store.fast_commits(object(), record, None)  # not a sqlite3 connection (e.g. PostgreSQL's driver)
    assert record.info == {}
