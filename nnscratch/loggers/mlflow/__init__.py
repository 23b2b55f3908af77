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

MLflow itself is imported on first use, not with this package (importing it costs seconds of CPU): a
sweep's logging thread does it (`warm`) while the first runs train. A SQLite store is opened in WAL
mode with synchronous=NORMAL (`logger.sqlite_wal`): its commits, 4 to 7 per run, then do not wait for
the disk, which was two thirds of a run's time. A folder of many runs still to log
(`python -m experiments.log`) can be split among `logger.bulk_workers` processes, each with its own
client (default 1: on a SQLite store, whose writes take turns, two were slower than one).

The modules: mapping (a run as an MLflow run), store (settings, SQLite tuning), bulk (the pool of bulk
workers), logger (MlflowLogger: what is logged, when, once).
"""

from nnscratch.loggers.mlflow.logger import MlflowLogger

__all__ = ["MlflowLogger"]
