"""Many runs to log at once (`python -m experiments.log` on a large folder), shared among
`logger.bulk_workers` processes, each with a client of its own (default 1: on a SQLite store, whose
writes take turns, two were slower than one)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from nnscratch.loggers.mlflow.mapping import experiment_name, runs_root

log = logging.getLogger(__name__)
BULK_CHUNK = 50  # runs a bulk worker logs per task (its ids are recorded as each task ends)
PROGRESS = 1000  # runs between two progress lines of a bulk log


def log_in_processes(parent, sweep_dir: Path, todo: dict[str, str]) -> int:
    """Log `todo` ({run folder: written}) in chunks shared among the bulk_workers processes of `parent` (an
    MlflowLogger: its store, its sweep's experiment, and it records the ids); how many.
    Each chunk's ids are recorded as it ends, so a failure loses no logged run's id (and a run left
    RUNNING by a killed worker is logged again next time). A pool of its own, spawned: never the
    sweep's loky workers, which may still be running tasks when the logging thread gets here."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    exp, items = parent.experiment_id(sweep_dir), list(todo.items())
    chunks = [dict(items[i : i + BULK_CHUNK]) for i in range(0, len(items), BULK_CHUNK)]
    settings = parent.settings | {"bulk_workers": 1}
    logged, failure, started = 0, None, time.perf_counter()
    with ProcessPoolExecutor(parent.bulk_workers, mp_context=get_context("spawn")) as pool:
        for done in as_completed([pool.submit(log_chunk, type(parent), settings, sweep_dir, exp, c) for c in chunks]):
            ids, problem = done.result()
            parent.record_ids(sweep_dir, ids)
            if (logged + len(ids)) // PROGRESS > logged // PROGRESS:
                took = time.perf_counter() - started
                log.info("mlflow: %d of %d runs logged in %.0f s", logged + len(ids), len(todo), took)
            logged += len(ids)
            failure = failure or problem
    if failure:
        raise RuntimeError(failure)
    return logged


def log_chunk(
    make: type, settings: dict, sweep_dir: Path, experiment_id: str, chunk: dict[str, str]
) -> tuple[dict, str | None]:
    """A bulk worker's task: log these run folders ({folder: written}) as new runs of the experiment, by a
    logger of its own (`make(settings)`); ({folder: (MLflow id, written)} of those logged, the problem that
    stopped it or None)."""
    worker = make(settings)  # an MlflowLogger, made in this process
    worker.experiments[worker.experiment or experiment_name(sweep_dir)] = experiment_id
    ids, root = {}, runs_root(sweep_dir)
    try:
        for folder, written in chunk.items():
            if (rid := worker.log_readable(sweep_dir, root / folder, written)) is not None:
                ids[folder] = (rid, written)
    except Exception as err:  # noqa: BLE001 - returned, reported once by the parent
        return ids, f"{type(err).__name__}: {str(err).strip()[:300]}"
    return ids, None
