"""A sweep's tasks on a Dask cluster whose workers share no disk with this process.

Nothing a worker does touches this machine's filesystem:

- the prepared arrays of each data key go to the cluster once, as the argument of a task whose
  result is that data (`hold`), replicated to every worker; tasks take it by reference, so the
  data crosses the network once per worker, not once per task, and if every worker holding it
  dies Dask makes it again on another (scattered data would be lost for good);
- a user's network file (network=notebook) is copied to every worker with Dask's `upload_file`, and
  a worker's runs import that copy (`on_this_worker`), wherever the file was on this machine;
- a task returns its runs' records (metrics, history) and this process writes them into the sweep
  folder, atomically, as the loky backend's workers do;
- with checkpoints (`checkpoint_every` > 0), a task saves its stack's state about that often into a
  Dask Variable named for the task (the scheduler holds the latest one only: not as an event,
  whose log keeps the last 1,000 of a topic) and says so with a small event; this process then
  fetches it and writes it as `checkpoints/<task>.ckpt` (nnscratch.run.checkpoint), for `resume=`.
  A task continues from its Variable when it holds a state (Dask's retry after its worker died),
  else from the checkpoint this process read from disk (`resume=`). When the sweep is stopped
  (Ctrl-C, SIGTERM, ...), this process sets a Dask Event the running tasks poll (about every
  `STOP_POLL` s): each saves its state at the end of its iteration and ends, and this process waits
  for those checkpoints (at most `stopping.SAVE_WAIT` s) before it cancels what is left.

Tasks go through Dask's futures API, at most `WINDOW` x the cluster's threads in flight at a time,
so a grid of 100,000 runs never holds 100,000 futures. A task whose worker dies is rescheduled by
Dask (up to the scheduler's ``distributed.scheduler.allowed-failures``); a task Dask gives up on
(KilledWorker) is split into its runs, and these suspects are retried one at a time, never two
beside each other (a run queued beside a killer dies with it and counts that death too); a run that
kills its worker again on its retry is recorded failed with Dask's reason. Nothing ever runs in this
process.
"""

from __future__ import annotations

import collections
import functools
import logging
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from nnscratch import data as datamod
from nnscratch import results
from nnscratch.config.checks import ConfigError
from nnscratch.networks.loading import own_network, source_path
from nnscratch.run import checkpoint, stopping
from nnscratch.run.dispatch import Dispatch
from nnscratch.run.plan import worker_count
from nnscratch.run.prepared import data_key, prepared_by_key
from nnscratch.run.task import TaskHooks, execute
from nnscratch.train.stack import RunProgress

log = logging.getLogger(__name__)
WINDOW = 2  # tasks in flight per cluster thread: one running, one queued
WAIT_FOR_WORKERS = 60  # seconds to wait for a first worker before giving up
KILL_RETRIES = 1  # a run alone that Dask gave up on (KilledWorker) is submitted again this often
STOP_POLL = 0.5  # seconds between a task's looks at its sweep's stop Event


class SavedAtStop(BaseException):
    """A task saved its state because its sweep is stopping, and trains no further (a BaseException:
    not a failed run; not KeyboardInterrupt, which would end the Dask worker)."""


class ClusterError(ConfigError):
    """The cluster cannot run the sweep (no scheduler at the address, no workers)."""


TLS_KEYS = ("ca_file", "cert_file", "key_file")  # parallel.tls: the CA that signed every certificate, ours, its key


def security(tls: dict | None):
    """Dask's own Security for `parallel.tls` ({ca_file, cert_file, key_file}: paths), or None (plain
    TCP). Encryption is required, and every party (scheduler, workers, this client) must show a
    certificate the CA signed: the one given serves each role here (a LocalCluster's too)."""
    if not tls:
        return None
    from distributed.security import Security

    ca, cert, key = (str(Path(tls[k]).expanduser()) for k in TLS_KEYS)
    return Security(
        tls_ca_file=ca,
        **{
            f"tls_{role}_{part}": path
            for role in ("client", "scheduler", "worker")
            for part, path in (("cert", cert), ("key", key))
        },
        require_encryption=True,
    )


def tls_problems(tls) -> list[str]:
    """What is wrong with parallel.tls: null, or {ca_file, cert_file, key_file}, each a file here."""
    if tls is None:
        return []
    if not isinstance(tls, dict) or set(tls) != set(TLS_KEYS):
        return [f"parallel.tls: must be null or {{{', '.join(TLS_KEYS)}}} (paths; docs/distributed.md), got {tls!r}"]
    return [
        f"parallel.tls.{k}: no file {tls[k]!r}: make the certificates as docs/distributed.md shows"
        for k in TLS_KEYS
        if not (isinstance(tls[k], str) and Path(tls[k]).expanduser().is_file())
    ]


@contextmanager
def connect(scheduler: str | None, workers: int, tls: dict | None = None) -> Iterator:
    """A distributed Client on `scheduler`, or on a LocalCluster of `workers` single-thread processes;
    over TLS with `tls` (see security)."""
    from distributed import Client, LocalCluster

    secure = security(tls)
    if not scheduler:
        tls_kw = {"security": secure, "protocol": "tls://"} if secure else {}
        with LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, **tls_kw
        ) as cluster:
            with Client(cluster, security=secure) as client, stopping.owning(lambda: cluster_pids(cluster)):
                yield client
        return
    try:
        client = Client(scheduler, timeout=30, security=secure)
    except (OSError, TypeError, ValueError) as err:  # unreachable; or TLS refused, or asked of a plain scheduler
        how = "with parallel.tls's certificate" if secure else "without a certificate (parallel.tls is null)"
        raise ClusterError(
            f"parallel.scheduler={scheduler}: cannot connect to a Dask scheduler there {how} "
            f"({type(err).__name__}: {' '.join(str(err).split())[:300]}). A scheduler started with TLS takes "
            "only clients whose certificate its CA signed (parallel.tls, docs/distributed.md); to start one, "
            "`dask scheduler`; or leave scheduler null for a cluster on this machine."
        ) from None
    with client:
        yield client


def cluster_pids(cluster) -> list[int]:
    """The worker processes of a LocalCluster (each nanny's)."""
    procs = [getattr(getattr(n, "process", None), "process", None) for n in list(cluster.workers.values())]
    return [p.pid for p in procs if p is not None and p.pid]


def cluster_threads(client) -> int:
    """Threads of the cluster's workers (its parallelism), waiting for a first worker to join."""
    try:
        client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS)
    except TimeoutError as err:
        raise ClusterError(
            f"no Dask worker joined the scheduler within {WAIT_FOR_WORKERS} s: start workers with "
            "`dask worker tcp://<scheduler>:8786` on machines with the project installed"
        ) from err
    return sum(client.nthreads().values())


def hold(data: datamod.Prepared) -> datamod.Prepared:
    """A task whose result is the data it was given: unlike scattered data, Dask recomputes it on
    another worker when every worker holding it dies."""
    return data


def ship_data(client, prepared: dict[str, datamod.Prepared]) -> tuple[dict, int]:
    """({data key: future}, bytes of data per worker): each key's arrays copied once to every worker."""
    from distributed import wait

    with warnings.catch_warnings():  # "Sending large graph": the data goes once, on purpose
        warnings.filterwarnings("ignore", message="Sending large graph")
        futures = {key: client.submit(hold, p, key=f"nnscratch-data-{key}", pure=False) for key, p in prepared.items()}
    wait(list(futures.values()))
    client.replicate(list(futures.values()))
    size = sum(a.nbytes for p in prepared.values() for a in (p.X_train, p.y_train, p.X_test, p.y_test))
    return futures, size


def report_progress(topic: str, done: dict[str, RunProgress]) -> None:
    """On a worker: send the work a task has done so far to the client, as a Dask event."""
    from distributed import get_worker

    get_worker().log_event(topic, done)


def send_record(topic: str, spec: dict, metrics: dict, history: list[dict]) -> None:
    """On a worker: send a run's record to the client the moment its model stops, as a Dask event."""
    from distributed import get_worker

    get_worker().log_event(topic, {"run_id": spec["run_id"], "metrics": metrics, "history": history})


def polled(stop_event: str) -> Callable[[], bool]:
    """On a worker: whether the sweep's stop Event is set, looked up at most every STOP_POLL s."""
    from distributed import Event

    event, seen = Event(stop_event), {"at": -STOP_POLL, "set": False}

    def asked() -> bool:
        if time.monotonic() - seen["at"] >= STOP_POLL:
            seen.update(at=time.monotonic(), set=event.is_set())
        return seen["set"]

    return asked


def ship_networks(client, specs: Iterable[dict]) -> None:
    """Copy each user's network file the specs train (network=notebook) to every worker, present and
    future (Dask's upload_file): the workers need no shared disk for it either."""
    for source in sorted({str(source_path(s["config"]["network"])) for s in specs if own_network(s["config"])}):
        client.upload_file(source, load=False)


def on_this_worker(specs: list[dict]) -> list[dict]:
    """On a worker: the specs with each user's network file read from the copy ship_networks left in
    this worker's folder."""
    if not any(own_network(s["config"]) for s in specs):
        return specs
    from distributed import get_worker

    folder = Path(get_worker().local_directory)

    def local(spec: dict) -> dict:
        network = spec["config"]["network"]
        copy = {**network, "source": str(folder / Path(network["source"]).name)}
        return spec | {"config": spec["config"] | {"network": copy}} if own_network(spec["config"]) else spec

    return [local(s) for s in specs]


def execute_on_worker(
    specs: list[dict],
    data: datamod.Prepared,
    max_rows: int | None,
    hooks: TaskHooks,
    saving: tuple[str, str, float, str] | None = None,
) -> list[tuple[dict, list[dict]]]:
    """On a worker: execute a task (nnscratch.run.task.execute) with `hooks`' report and on_stop. With
    `saving` = (Variable name, event topic, seconds, stop Event name), its stack's state goes into that
    Dask Variable about every so many seconds and once the stop Event is set (then the task ends:
    SavedAtStop), each save announced on the topic; it continues from the Variable's state if it holds
    one (this is Dask's retry of a task whose worker died), else from `hooks.state`."""
    specs = on_this_worker(specs)
    if not saving:
        return execute(specs, data, max_rows, TaskHooks(hooks.report, hooks.on_stop))
    from distributed import Variable, get_worker

    name, topic, every, stop_event = saving
    saved, asked, state = Variable(name), polled(stop_event), hooks.state
    try:
        state, went_on = saved.get(timeout=0.05), True
    except TimeoutError:
        went_on = False
    get_worker().log_event(topic, {"name": name, "started": True, "continues": went_on})

    def save(state: bytes) -> None:
        saved.set(state)
        get_worker().log_event(topic, {"name": name})
        if asked():
            raise SavedAtStop(name)

    return execute(specs, data, max_rows, TaskHooks(hooks.report, hooks.on_stop, (every, save, asked), state))


class InFlight:
    """The tasks on the cluster: each submitted with its data, its specs kept for the records its
    worker sends as runs stop, and the runs a worker died running retried one at a time."""

    def __init__(self, client, shipped: dict, max_rows: int | None, hooks: TaskHooks, saves=None):
        from distributed import as_completed

        self.client, self.shipped, self.max_rows = client, shipped, max_rows
        self.hooks = hooks  # each task's report and on_stop (its state: its checkpoint, in submit)
        self.saves = saves  # (checkpoint folder, event topic, seconds), or None: no checkpoints
        self.stop_event = f"nnscratch-stop-{uuid.uuid4().hex[:8]}"  # set when the sweep stops
        self.saving: dict[str, list[dict]] = {}  # Variable name -> the specs of its task in flight
        self.started: set[str] = set()  # Variable names of the tasks that said they started
        self.saved_at: dict[str, float] = {}  # Variable name -> when its last checkpoint was written
        self.running: dict = {}  # future -> its specs
        self.by_id: dict[str, dict] = {}  # every spec submitted, by run id
        self.done = as_completed()
        self.suspects, self.on_trial = collections.deque(), set()  # runs a worker died running; their retries
        self.killed = Counter()

    def submit(self, specs: list[dict], trial: bool = False) -> None:
        key = f"nnscratch-{specs[0]['run_id']}-{uuid.uuid4().hex[:8]}"
        data = self.shipped[data_key(specs[0]["config"])]
        saving, state = None, None
        if self.saves:
            folder, topic, every = self.saves
            saving, state = (f"{key}-state", topic, every, self.stop_event), checkpoint.load_state(folder, specs)
            self.saving[saving[0]] = specs
            if state is not None:  # resume=: the checkpoint this process kept
                log.warning("a task of %d run(s) continues from its checkpoint", len(specs))
        args = (specs, data, self.max_rows, replace(self.hooks, state=state), saving)
        future = self.client.submit(execute_on_worker, *args, key=key)
        self.running[future] = specs
        self.by_id.update((s["run_id"], s) for s in specs)
        self.done.add(future)
        if trial:
            self.on_trial.add(future)

    def try_next_suspect(self) -> None:
        """Retry suspects one at a time: a run queued beside a killer on one worker dies with it and
        counts that death, so an innocent run retried beside the killer's own retry would fail too."""
        if self.suspects and not self.on_trial:
            self.submit(self.suspects.popleft(), trial=True)

    def records(self, future) -> tuple[list[dict], list[tuple[dict, list[dict]]]]:
        """A finished future's specs and their (metrics, history) records: none yet for runs to retry
        (a stack whose worker died is split into its runs), `failed` ones for a run that kept killing
        its worker or a task that could not run at all."""
        from distributed.scheduler import KilledWorker

        specs = self.running.pop(future)
        self.on_trial.discard(future)
        rid, records = specs[0]["run_id"], []
        try:
            records = future.result()
        except KilledWorker as err:
            self.killed[rid] += 1
            if len(specs) > 1 or self.killed[rid] <= KILL_RETRIES:  # it may have been beside the run that killed
                self.suspects.extend([spec] for spec in specs)  # a stack is split: only the killer fails
            else:
                records = [({"status": "failed", "error": f"worker died while running it (KilledWorker: {err})"}, [])]
        except Exception as err:  # the task could not run at all (e.g. its data could not be made)
            records = [({"status": "failed", "error": f"{type(err).__name__}: {err}"}, []) for _ in specs]
        future.release()
        return specs, records

    async def keep_state(self, event: tuple) -> None:
        """On a task's checkpoint event: fetch its state from the Variable, write it to the sweep's
        checkpoints/ (in this process's event loop; a task that ended meanwhile is skipped)."""
        from distributed import Variable

        sent = event[1]
        specs = self.saving.get(sent["name"])
        if specs is None:
            return
        if sent.get("started"):
            self.started.add(sent["name"])
            if sent["continues"]:
                log.warning("a task of %d run(s) continues from its checkpoint (Dask's retry)", len(specs))
            return
        state = await Variable(sent["name"], client=self.client)._get(timeout=30)
        if sent["name"] in self.saving:
            checkpoint.save_state(self.saves[0], specs, state)
            self.saved_at[sent["name"]] = time.monotonic()

    def save_now(self, wait: float = stopping.SAVE_WAIT) -> None:
        """At a stop: set the stop Event (each running task saves at the end of its iteration and
        ends) and wait, at most `wait` seconds, until every task that had started has a checkpoint
        on this disk written since (or has ended)."""
        from distributed import Event

        asked_at = time.monotonic()
        Event(self.stop_event, client=self.client).set()

        def running() -> set[str]:  # the Variable names of the started tasks that have not ended
            ended = {f"{f.key}-state" for f in self.running if f.done()}
            return {name for name in self.saving if name in self.started and name not in ended}

        busy = running()

        def missing() -> list[str]:
            return [n for n in busy & running() if self.saved_at.get(n, 0) < asked_at]

        while missing() and time.monotonic() < asked_at + wait:
            time.sleep(0.05)
        n_saved = len(busy) - len(missing())
        log.warning("stopping: %d of %d task(s) in flight saved their checkpoints", n_saved, len(busy))

    def forget_state(self, key: str) -> None:
        """A task ended and its records are written: its Variable and its checkpoint go."""
        from distributed import Variable

        specs = self.saving.pop(f"{key}-state", None)
        self.started.discard(f"{key}-state")
        self.saved_at.pop(f"{key}-state", None)
        if specs is not None:
            Variable(f"{key}-state", client=self.client).delete()
            checkpoint.remove(self.saves[0], specs)


def run_tasks(
    client,
    threads: int,
    dispatch: Dispatch,
    prepared: dict[str, datamod.Prepared],
    write: Callable[[dict, dict, list[dict]], None],
) -> None:
    """Run every task of `dispatch` on the cluster's `threads` (and, after each task, those `dispatch.more()`
    adds: overlapped adaptive rounds), `write(spec, metrics, history)` each run's record the moment its
    model stops (a Dask event from the worker; again with its task's result: `write` keeps the
    first), and pass `dispatch.bar` the work running tasks report (about every second, as Dask events).
    With parallel.checkpoint_every > 0, each task checkpoints about that often into the sweep's
    checkpoints/ (see the module doc), and at a stop (Ctrl-C, SIGTERM, ...) the running tasks save
    first. On any exception cancel what is pending and re-raise: every record already written stays,
    and the last checkpoint of each task in flight."""
    parallel, more, moving = dispatch.parallel, dispatch.more, dispatch.bar.moving
    every, max_rows = parallel.checkpoint_every, parallel.stack_rows or None
    saves = (dispatch.runs_root.parent / "checkpoints", every) if every else None
    shipped, size = ship_data(client, prepared)
    log.info("dask: %d worker threads; data shipped once to each worker: %.1f MB", threads, size / 1e6)
    topics = (f"nnscratch-{what}-{uuid.uuid4().hex[:8]}" for what in ("progress", "record", "checkpoint"))
    progress, stopped, saved = topics
    hooks = TaskHooks(functools.partial(report_progress, progress), functools.partial(send_record, stopped))
    kept = (saves[0], saved, saves[1]) if saves else None
    pool = InFlight(client, shipped, max_rows, hooks, kept)
    client.subscribe_topic(progress, lambda event: moving(event[1]))
    if saves:
        client.subscribe_topic(saved, pool.keep_state)

    def record_sent(event: tuple) -> None:
        sent = event[1]
        write(pool.by_id[sent["run_id"]], sent["metrics"], sent["history"])

    client.subscribe_topic(stopped, record_sent)
    todo = collections.deque(more() if more else [])  # (a resumed sweep's rounds may be due at once)
    todo.extend(dispatch.planned)

    def taken(count: int) -> list[list[dict]]:
        return [todo.popleft() for _ in range(min(count, len(todo)))]

    for specs in taken(WINDOW * threads):
        pool.submit(specs)
    try:
        for future in pool.done:
            specs, records = pool.records(future)
            for spec, (metrics, history) in zip(specs, records):
                write(spec, metrics, history)
            pool.forget_state(future.key)
            if more:
                todo.extendleft(reversed(more()))  # a round's seeds before the grid's small tasks
            for following in taken(max(1, WINDOW * threads - len(pool.running))):
                pool.submit(following)
            pool.try_next_suspect()
    except BaseException as err:
        if saves and isinstance(err, KeyboardInterrupt):  # a stop (stopping.Interrupted): save what trains
            pool.save_now()
        client.cancel(list(pool.running))
        raise
    finally:
        client.unsubscribe_topic(progress)
        if saves:
            client.unsubscribe_topic(saved)
        client.unsubscribe_topic(stopped)


def run_on_dask(dispatch: Dispatch) -> None:
    """Tasks on a Dask cluster (parallel.scheduler, or a LocalCluster of parallel.n_jobs workers), each
    checkpointed about every parallel.checkpoint_every seconds (0: never) into this process's
    <sweep dir>/checkpoints/; this process writes every record. After each task, `dispatch.more()` gives
    the tasks to add (overlapped adaptive rounds: their data is among `dispatch.data_of`'s). Over TLS with
    parallel.tls (see security)."""
    # imported here: its tqdm is for the sweep's process, not for a Dask worker running this module's tasks
    from nnscratch.run.progress import tally

    parallel, bar, more = dispatch.parallel, dispatch.bar, dispatch.more
    written, lock = set(bar.seen), threading.Lock()  # finished before (a resumed task's) or already written

    def write(spec: dict, metrics: dict, history: list[dict]) -> None:
        with lock:
            if spec["run_id"] in written:
                return
            row = results.record_run(dispatch.runs_root.parent, spec, metrics, history)  # a full disk raises
            written.add(spec["run_id"])
            tally(dispatch.counts, row, bar)

    def added() -> list[list[dict]]:
        tasks = more()
        bar.add(tasks)
        return tasks

    todo = dispatch.data_specs()
    if not dispatch.planned and not more:
        return
    tls = dict(parallel.tls) if parallel.tls else None
    with connect(parallel.scheduler, worker_count(parallel.n_jobs, todo), tls) as client:
        threads = cluster_threads(client)
        ship_networks(client, todo)
        bar.plan([[s["run_id"] for s in t] for t in dispatch.planned], threads)
        prepared = dict(prepared_by_key(todo))
        run_tasks(client, threads, replace(dispatch, more=added if more else None), prepared, write)
