"""The tracking store: its settings checked, where a SQLite store's artifacts go, and a SQLite store's
commits made without waiting for the disk (`logger.sqlite_wal`)."""

from __future__ import annotations

import logging
from pathlib import Path

from nnscratch.config.checks import ConfigError
from nnscratch.config.schema import MlflowSettings, typed_block

log = logging.getLogger(__name__)
SCHEMES = ("sqlite:///", "http://", "https://", "file:", "postgresql", "mysql")


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
