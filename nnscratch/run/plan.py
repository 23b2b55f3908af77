"""A sweep's runs grouped into tasks: which runs stack together, in what order the tasks go, and how
many workers run them.
"""

from __future__ import annotations

import json
import logging

import joblib

from nnscratch import datasets
from nnscratch.run.prepared import data_key

log = logging.getLogger(__name__)


STACK_KEYS = ("lr", "iterations", "eval_every", "blas_threads", "collapse_margin", "skip_dead")


def stackable(config: dict) -> bool:
    """Full-batch runs of the built-in network without fault injection can share a stack (a mini-batch run
    draws its own batches; a user's network trains alone)."""
    builtin = (config.get("network") or {"name": "builtin"})["name"] == "builtin"
    return builtin and config["train"].get("batch_size") is None and config.get("fault") is None


def schedule_key(config: dict) -> tuple:
    """Runs stack together only when they train on the same schedule, activation and update rule."""
    rules = json.dumps([config.get("activation"), config.get("optimizer")], sort_keys=True)
    return tuple(config["train"].get(k) for k in STACK_KEYS) + (config["model"].get("dtype", "float32"), rules)


def samples_read(config: dict) -> float:
    """What a run reads through: samples x iterations."""
    return datasets.n_train(config["data"]) * config["train"]["iterations"]


def cost(specs: list[dict]) -> float:
    """Relative work of a task: hidden units x samples x iterations."""
    return sum(sum(s["config"]["model"]["hidden"]) for s in specs) * samples_read(specs[0]["config"])


TASK_STACKS = 4  # at most this many stacks' worth of runs in a task: a record is written when its task ends


def group_key(config: dict) -> tuple:
    """Runs alike enough to stack, and to tell what each other will cost: same data and schedule."""
    return data_key(config), schedule_key(config)


def tasks(specs: list[dict], stack_rows: int, split: int = 1) -> list[list[dict]]:
    """Group runs into tasks, largest first: alone, or (stack_rows > 0) runs sharing data and schedule,
    trained at most `stack_rows` live first-layer units at a time (nnscratch.train.stack.Stack admits the
    next as others finish or lose units). A group is dealt round-robin, widest first, into at least
    `split` tasks (so that workers share it) and tasks of at most TASK_STACKS x stack_rows units:
    every task gets a like mix of runs, so the workers finish together however many of the runs'
    units die. Among tasks of equal cost, each group's first comes before any group's second: the
    first tasks then sample every kind of run, which is what the progress bar's estimate learns from
    (Progress). The tasks depend on the runs and these settings only, never on the worker count:
    each row of a stacked product is computed from its own row of W1, but BLAS may round it
    differently with the product's shape (OpenBLAS does), so a run's last float32 bits depend on
    which runs share its stack."""
    groups: dict[tuple, list[dict]] = {}
    for s in specs:
        key = group_key(s["config"]) if stack_rows and stackable(s["config"]) else s["run_id"]
        groups.setdefault(key, []).append(s)
    out = []  # (cost, rank in its group, task)
    for group in groups.values():
        units = sum(s["config"]["model"]["hidden"][0] for s in group)
        n = max(split, -(-units // (TASK_STACKS * stack_rows))) if stack_rows else 1
        ordered = sorted(group, key=lambda s: (-s["config"]["model"]["hidden"][0], s["run_id"]))
        out += [(cost(ordered[i::n]), i, ordered[i::n]) for i in range(min(n, len(ordered)))]
    return [t for *_, t in sorted(out, key=lambda o: (-o[0], o[1]))]


def plan_tasks(batches: list[list[dict]], stack_rows: int, split: int, done: set[str]) -> list[list[dict]]:
    """The tasks of the runs not `done`, largest first. Each batch (a grid, then each adaptive round)
    is planned apart and from all its runs, finished or not, so that a run's stack, and with it its
    last bits (see tasks), is the same whether its sweep ran straight through or was resumed."""
    planned = [t for batch in batches for t in tasks(batch, stack_rows, split)]
    return sorted(unfinished(planned, done), key=lambda t: -cost(t))  # stable: a batch keeps its order


def round_tasks(cell_rounds: list[list[dict]], stack_rows: int, done: set[str]) -> list[list[dict]]:
    """The tasks of adaptive rounds, largest first: each batch is one cell's new seeds of one round, stacked
    whole in one task (tasks with split 1; a task holds TASK_STACKS x stack_rows units), whatever other cells
    decided in the same round. A run's stack-mates, and with them its last bits (see tasks), are then the
    same whether the rounds ran strict or overlapped (nnscratch.run.overlap), and a heavy cell's seeds
    train as one fat stack in every round instead of being dealt out thin."""
    planned = [t for batch in cell_rounds for t in tasks(batch, stack_rows, 1)]
    return sorted(unfinished(planned, done), key=lambda t: -cost(t))


def unfinished(planned: list[list[dict]], done: set[str]) -> list[list[dict]]:
    """The planned tasks that have a run not `done`, whole: a task interrupted after some of its runs
    stopped trains again with the same stack-mates (from its checkpoint, or from the start), so the
    rest get the last bits of a straight sweep; its finished runs are not recorded again
    (nnscratch.run.task.run_task, nnscratch.run.dask.run_on_dask)."""
    return [t for t in planned if any(s["run_id"] not in done for s in t)]


def pending(planned: list[list[dict]], done: set[str]) -> list[list[dict]]:
    """The planned tasks without their `done` runs (a task left empty goes)."""
    return [left for t in planned if (left := [s for s in t if s["run_id"] not in done])]


def worker_count(n_jobs: int | None, specs: list[dict]) -> int:
    """Workers such that workers x BLAS threads per run <= cores."""
    cores = joblib.cpu_count()
    threads = max((s["config"]["train"]["blas_threads"] for s in specs), default=1)
    limit = max(1, cores // threads)
    if n_jobs is not None and n_jobs > limit:
        log.warning(
            "parallel.n_jobs=%d x %d BLAS threads exceeds %d cores: using %d workers", n_jobs, threads, cores, limit
        )
    return min(n_jobs or limit, limit)
