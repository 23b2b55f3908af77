"""A sweep from start to end: resolve and validate the grid, lay out its folder, run, tabulate.

    outputs/<grid>/<timestamp>/
        sweep.json  environment.json  results.csv  runs/<run_id>/{config.json,metrics.json,history.csv}

Nothing is written until every cell of the grid has composed and validated.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml
from tqdm.contrib.logging import logging_redirect_tqdm

from nnscratch import results
from nnscratch.claims import claims_digest, claims_for, design, for_dataset, load_claims
from nnscratch.config.checks import ConfigError, parallel_settings
from nnscratch.config.claims_file import claims_problems
from nnscratch.config.compose import run_keys
from nnscratch.config.grid import axis_names, expand, products
from nnscratch.config.schema import Adaptive, Grid, Parallel, typed_block
from nnscratch.config.search import conf_dirs
from nnscratch.environment import environment
from nnscratch.loggers import Logger, NoLogger
from nnscratch.network import Activation
from nnscratch.networks.checks import check_network
from nnscratch.networks.loading import NetworkFileError, load_notebook, own_network
from nnscratch.paths import CONF_DIR
from nnscratch.run import stopping
from nnscratch.run.adaptive import SeedRounds, plan_round, recorded_specs, stop_reason, verdicts
from nnscratch.run.dask import run_on_dask, tls_problems
from nnscratch.run.dispatch import Dispatch
from nnscratch.run.loky import in_flight, run_on_loky
from nnscratch.run.overlap import OverlappedRounds
from nnscratch.run.plan import cost, plan_tasks, round_tasks
from nnscratch.run.prepared import prepare_for
from nnscratch.run.progress import Display, Progress

log = logging.getLogger(__name__)
NOT_COMPARED = (
    "parallel",
    "created",
    "sessions",
    "adaptive",
    "rounds",
    "claims_file",
    "claims_sha256",
)  # may differ on resume


@dataclass(frozen=True)
class SweepRequest:
    """What a sweep is asked to run: `grid` (conf/sweep/'s block), the command line's `cli_overrides`
    (those that set the run config apply to every cell), `out_root` (where a new sweep's folder goes),
    `resume` (a folder a sweep wrote, to go on with), `conf_dir` (the conf folder cells compose from)
    and `adaptive` (conf/sweep.yaml's adaptive block as a dict, or None: no extra seeds)."""

    grid: dict
    cli_overrides: Sequence[str] = ()
    out_root: Path = Path("outputs")
    resume: str | None = None
    conf_dir: Path = CONF_DIR
    adaptive: dict | None = None


@dataclass(frozen=True)
class SweepWork:
    """What run_sweep runs: `batches` (a grid's specs, stacked within each batch) and `rounds` (each cell's
    seeds of an adaptive round, a task each); for overlapped rounds, `feed()` gives each cell's seeds
    of a round as the runs end and `foresee()` the runs still expected but not yet fed, (a spec of their
    cell, how many, in how many rounds)."""

    batches: list[list[dict]]
    rounds: list[list[dict]] = ()
    feed: Callable[[], list[list[dict]]] | None = None
    foresee: Callable[[], list[tuple[dict, float, float]]] | None = None


def base_overrides(cli_overrides: list[str], conf_dir: Path = CONF_DIR) -> list[str]:
    """The command-line overrides that set the run config (a key of the composed train.yaml), applied
    to every cell."""
    keys = run_keys(conf_dir)
    return [o for o in cli_overrides if o.lstrip("+~").split("=", 1)[0].split(".")[0] in keys]


def plan(grid: dict, cli_overrides: list[str], conf_dir: Path = CONF_DIR) -> tuple[dict, list[dict]]:
    """(sweep record, run specs) of a grid; ConfigError listing every problem if any cell is bad."""
    grid, problems = typed_block("sweep", Grid, grid)
    if problems:
        raise ConfigError("\n".join(f"sweep '{grid.get('name')}': {p}" for p in problems))
    base = base_overrides(cli_overrides, conf_dir)
    specs, problems = expand(grid, base, conf_dir)
    if problems:
        raise ConfigError("\n".join(f"sweep '{grid.get('name')}': {p}" for p in problems))
    record = {
        "name": grid["name"],
        "axes": axis_names(grid),
        "products": products(grid),
        "base_overrides": base,
        "claims": grid.get("claims"),
    }
    if any(own_network(s["config"]) for s in specs):
        record, specs = with_builtin_twins(grid, base, specs, record, conf_dir)
    return record | {"runs": [s["run_id"] for s in specs]}, specs


def with_builtin_twins(
    grid: dict, base: list[str], specs: list[dict], record: dict, conf_dir: Path
) -> tuple[dict, list[dict]]:
    """A grid run with the user's network (network=notebook) also runs every cell with the built-in one,
    on the same seeds, so that the report can tell the code from the config: a `network` axis is added.
    The user's file is imported (probed) here, before any work: a slow, data-reading or incomplete file
    stops the sweep with one line."""
    network = specs[0]["config"]["network"]
    try:
        nb = load_notebook(network)
    except NetworkFileError as err:
        raise ConfigError(f"sweep '{grid['name']}': {err}") from None
    twins, _ = expand(grid, [o for o in base if o.lstrip("+~").split("=", 1)[0].split(".")[0] != "network"], conf_dir)
    for spec in specs:
        spec["axes"]["network"] = network["name"]
    for spec in twins:
        spec["axes"]["network"] = "builtin"
    record["axes"] = [*record["axes"], "network"]
    record["network"] = {"source": str(nb.path), "sha256": nb.sha256, "functions": nb.names}
    return record, specs + twins


def write_network_check(sweep_dir: Path, specs: list[dict]) -> None:
    """The user's network checked (nnscratch.networks.checks) on the sweep's first data, written to
    network_check.json for the report: what the code does wrong, apart from any config."""
    config = next(s["config"] for s in specs if own_network(s["config"]))
    report = check_network(
        load_notebook(config["network"], probe=False), prepare_for(config), Activation(**config["activation"])
    )
    found = [f.line() for f in report.findings]
    results.write_json(
        sweep_dir / "network_check.json",
        {"findings": found, "passed": report.passed, "notes": report.notes, "seconds": round(report.seconds, 2)},
    )
    log.info("your network's check: %s", f"{len(found)} finding(s)" if found else "nothing found")


def check_resume(sweep_dir: Path, record: dict) -> None:
    """Refuse to resume a sweep whose resolved config differs from the one on disk."""
    if not (Path(sweep_dir) / "sweep.json").is_file():
        raise ConfigError(
            f"resume={sweep_dir}: no sweep.json there; give a folder a sweep wrote (outputs/<grid>/<timestamp>)"
        )
    try:
        on_disk = results.read_sweep(sweep_dir)
    except ValueError as err:
        raise ConfigError(f"resume={sweep_dir}: its sweep.json cannot be read ({err}); nothing was run") from None
    diffs = [k for k in sorted(set(on_disk) | set(record)) if k not in NOT_COMPARED and on_disk.get(k) != record.get(k)]
    if diffs:
        raise ConfigError(
            f"resume={sweep_dir}: refusing, the resolved sweep differs from the one on disk in "
            f"{', '.join(diffs)}. Resume with the same sweep and overrides, or start a new sweep."
        )


def new_sweep_dir(out_root: Path, name: str) -> Path:
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    path, n = Path(out_root) / name / stamp, 1
    while path.exists():
        path, n = Path(out_root) / name / f"{stamp}_{n}", n + 1
    return path


def grid_claims(record: dict, conf_dir: Path) -> Path:
    """The claims file of a grid (its `claims:`, else claims.yaml) on the conf search path, a user's
    --config-dir first; ConfigError if the grid names a file no folder holds."""
    folders = conf_dirs(conf_dir)
    path = claims_for(record, folders)
    if record.get("claims") and not path.is_file():
        where = " or ".join(str(f) for f in folders)
        raise ConfigError(f"sweep '{record['name']}': claims: no {record['claims']} in {where}; add it there")
    return path


def check_adaptive(adaptive: dict | None, record: dict, conf_dir: Path = CONF_DIR) -> dict | None:
    """The adaptive-seed settings as recorded in sweep.json, or None when off; ConfigError if unusable."""
    if not adaptive or not adaptive.get("enabled"):
        return None
    if "seed" not in record["axes"]:  # adaptive seeds are on by default: a grid without seeds has nothing to add
        log.warning("adaptive seeds skipped: the grid has no seed axis (add e.g. seed: [0, 1, 2] to its axes)")
        return None
    adaptive, problems = typed_block("adaptive", Adaptive, adaptive)
    max_seeds = adaptive.get("max_seeds")
    if not problems and max_seeds < 2:
        problems.append(f"adaptive.max_seeds: must be >= 2, got {max_seeds!r}")
    path = Path(adaptive["claims"]) if adaptive.get("claims") else grid_claims(record, conf_dir)
    boundary = None
    in_file = claims_problems(path) if path.is_file() else []  # every key of the file first, one line each
    problems += in_file
    try:
        boundary = None if in_file else design(load_claims(path))
    except (OSError, ValueError, yaml.YAMLError) as err:
        problems.append(f"adaptive.claims: cannot use {path}: {err}")
    if boundary and not problems and max_seeds > boundary.last:
        problems.append(
            f"adaptive.max_seeds: {max_seeds} is beyond the sequential design of {path} (last look "
            f"{boundary.last}); lower adaptive.max_seeds or add a later look to sequential.looks in the claims file"
        )
    if problems:
        raise ConfigError("\n".join(problems))
    settings = {"enabled": True, "max_seeds": max_seeds, "claims": str(path), "claims_sha256": claims_digest(path)}
    settings["overlap"] = bool(adaptive.get("overlap", True))
    return settings | {"design": boundary.record()}


def claims_fixed(settings: dict | None, record: dict, conf_dir: Path) -> dict:
    """The claims file this sweep will be judged by and its SHA-256, recorded before any run (the report
    refuses another file unless asked to explore); ConfigError, before any work, if the file has a problem
    (nnscratch.config.claims_file)."""
    path = Path(settings["claims"]) if settings else grid_claims(record, conf_dir)
    if not path.is_file():
        return {}
    problems = claims_problems(path)
    if problems:
        raise ConfigError("\n".join(problems))
    return {"claims_file": str(path), "claims_sha256": claims_digest(path)}


def check_same_claims(sweep_dir: Path, on_disk: dict, settings: dict | None) -> None:
    """Refuse to continue adaptive rounds with a claims file other than the one that chose them."""
    before = (on_disk.get("adaptive") or {}).get("claims_sha256")
    if not (settings and settings.get("enabled") and before):
        return
    path = Path(settings["claims"])
    if not path.is_file() or claims_digest(path) != before:
        raise ConfigError(
            f"resume={sweep_dir}: refusing, the claims file {path} changed since this sweep's adaptive "
            "rounds chose their seeds. Restore it, or start a new sweep."
        )
    recorded = (on_disk.get("adaptive") or {}).get("design")
    if recorded and settings.get("design") and recorded != settings["design"]:
        raise ConfigError(
            f"resume={sweep_dir}: refusing, the sequential design recorded in sweep.json differs from the one "
            "this code computes (nnscratch/stats.py changed). Resume with the code that started it, or start anew."
        )


def open_sweep(request: SweepRequest, parallel: Parallel) -> tuple[dict, list[dict], Path, float]:
    """Check and plan a sweep before any work: (its sweep.json record, its run specs, its folder, new
    or the one resumed, whose record's sessions and rounds go on; the seconds planning took)."""
    grid, conf_dir, resume, out_root = request.grid, request.conf_dir, request.resume, request.out_root
    planning = time.time()
    record, specs = plan(grid, list(request.cli_overrides), conf_dir)
    planning = time.time() - planning
    settings = check_adaptive(request.adaptive, record, conf_dir)
    record |= {"parallel": asdict(parallel), "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "rounds": []}
    record |= claims_fixed(settings, record, conf_dir)
    if resume:
        sweep_dir = Path(resume)
        check_resume(sweep_dir, record)
        on_disk = results.read_sweep(sweep_dir)
        record |= {k: on_disk.get(k) for k in ("created", "sessions")} | {"rounds": on_disk.get("rounds") or []}
        record |= {k: on_disk[k] for k in ("claims_file", "claims_sha256") if k in on_disk}  # fixed at the start
        settings = settings or on_disk.get("adaptive")  # resuming an adaptive sweep goes on with its rounds
        check_same_claims(sweep_dir, on_disk, settings)
    else:
        sweep_dir = new_sweep_dir(out_root, grid["name"])
        try:
            sweep_dir.mkdir(parents=True)
        except OSError as err:
            raise ConfigError(
                f"out_root={out_root}: cannot create {sweep_dir} ({err.strerror}); "
                "give out_root= a folder you can write to"
            ) from None
        record["sessions"] = []
    record["adaptive"] = settings
    return record, specs, sweep_dir, planning


def session(started: float, planning: float, parallel: Parallel) -> dict:
    """One session's entry in sweep.json: when it started, its wall and planning time, its backend."""
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "wall_seconds": round(time.time() - started, 1),
        "planning_seconds": round(planning, 2),
        "parallel": asdict(parallel),
    }


def run(
    request: SweepRequest, parallel: Parallel | dict, progress: bool = True, logger: Logger | None = None
) -> tuple[Path, Counter]:
    """Validate, then run every missing or failed run of the request's grid, then (adaptive) the rounds
    of extra seeds; (sweep dir, counts). Each record written is given to `logger` (nnscratch.loggers) as
    it is written, and at the end the whole folder (what it has not logged yet): by this process, so give
    a logger that returns at once (nnscratch.loggers.process.started's) unless waiting on it is fine.
    `parallel` is conf/parallel/'s block, as a Parallel or a dict of some of its keys."""
    parallel = parallel_settings(parallel)
    problems = tls_problems(dict(parallel.tls) if parallel.tls is not None else None)
    if problems:
        raise ConfigError("\n".join(problems))
    record, specs, sweep_dir, planning = open_sweep(request, parallel)
    grid, conf_dir, settings = request.grid, request.conf_dir, record["adaptive"]
    guard = ExitStack()  # the sweep folder's lock and the signal handlers, until this session ends
    guard.enter_context(stopping.sweep_lock(sweep_dir))
    guard.enter_context(stopping.stop_on_signals())
    started = time.time()
    logger = logger or NoLogger()

    def run_batches(work: SweepWork) -> Counter:
        on_record = lambda run_id: logger.log_runs(sweep_dir, [run_id])  # noqa: E731
        return run_sweep(work, sweep_dir, parallel, progress, on_record)

    try:
        log.info("sweep '%s': %d runs -> %s", grid["name"], len(specs), sweep_dir)
        results.write_json(sweep_dir / "sweep.json", record)
        stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
        env_name = "environment.json" if not request.resume else f"environment-resumed-{stamp}.json"
        results.write_json(sweep_dir / env_name, environment(conf_dir.parent))
        if record.get("network"):
            write_network_check(sweep_dir, specs)
        adaptive = settings and settings.get("enabled")
        if adaptive and settings.get("overlap", True):
            counts = overlapped_seeds(record, specs, sweep_dir, run_batches, conf_dir)
        else:
            added = [  # of an interrupted sweep: each cell's seeds of a round, as add_seeds ran them
                recorded_specs([{"cells": [c]}], record["axes"], conf_dir) for r in record["rounds"] for c in r["cells"]
            ]
            counts = run_batches(SweepWork([specs], added))
            specs += [s for batch in added for s in batch]
            if adaptive:
                counts += add_seeds(record, specs, sweep_dir, run_batches, conf_dir)
        logger.log_runs(sweep_dir)  # any record written unannounced (a dead pool's), or by an earlier session
    except KeyboardInterrupt as err:  # any stop signal (nnscratch.run.stopping): its workers are stopped
        stopping.end_workers()
        raise stopping.interrupted(err, sweep_dir) from None
    except OSError as err:  # a full disk, here or in a worker: every record written is whole (results.py)
        if not stopping.is_disk_full(err):
            raise
        stopping.end_workers()
        with stopping.stop_when_full(sweep_dir, "its records", lambda: len(specs) - len(results.run_dirs(sweep_dir))):
            raise
    finally:  # wall time of this session, kept across resumes
        record["sessions"].append(session(started, planning, parallel))
        try:
            results.write_json(sweep_dir / "sweep.json", record)
        except OSError as err:  # the old sweep.json stays, whole; the full disk is said (above, or by the next write)
            if not stopping.is_disk_full(err):
                raise
            log.warning("%s: the disk is full: this session's entry is not in sweep.json", sweep_dir)
        guard.close()
    return sweep_dir, counts


def add_seeds(
    record: dict, specs: list[dict], sweep_dir: Path, run_batches: Callable[[SweepWork], Counter], conf_dir: Path
) -> Counter:
    """Rounds of extra seeds (nnscratch.run.adaptive), each recorded in sweep.json before it runs."""
    settings, rounds, counts = record["adaptive"], record["rounds"], Counter()
    claims = for_dataset(load_claims(Path(settings["claims"])), results.dataset_of(sweep_dir))
    seeds = SeedRounds(claims, record["axes"], specs, settings["max_seeds"], conf_dir)
    while True:
        runs, histories = results.read_results(sweep_dir), results.read_histories(sweep_dir)
        now, cells, new = plan_round(seeds, runs, histories)
        if rounds:
            rounds[-1]["verdicts_after"] = verdicts(now)
        if not new:
            settings["stopped"] = stop_reason(now, settings["max_seeds"])
            results.write_json(sweep_dir / "sweep.json", record)
            return counts
        rounds.append({"round": len(rounds) + 1, "verdicts_before": verdicts(now), "cells": cells})
        results.write_json(sweep_dir / "sweep.json", record)
        log.info("adaptive round %d: %d extra runs in %d cells", len(rounds), sum(map(len, new)), len(cells))
        specs += [s for cell in new for s in cell]
        counts += run_batches(SweepWork([], new))


def overlapped_seeds(
    record: dict, specs: list[dict], sweep_dir: Path, run_batches: Callable[[SweepWork], Counter], conf_dir: Path
) -> Counter:
    """The grid and its adaptive rounds at once (nnscratch.run.overlap): a cell's next seeds are planned
    when the cells it is judged with are in, each cell's entry written to its round in sweep.json before its
    seeds run; at the end the rounds are recorded as strict rounds record them (verdicts before and after).
    A resumed sweep's cells decide again what they decided (the same seeds), and run what is missing."""
    settings, rounds = record["adaptive"], record["rounds"]
    claims = for_dataset(load_claims(Path(settings["claims"])), specs[0]["config"]["data"]["name"])  # (dataset_of's)
    flow = OverlappedRounds(claims, record["axes"], specs, settings["max_seeds"], conf_dir)
    added: list[dict] = []

    def tables() -> tuple:  # the journal read once: results.csv rebuilt from it, the histories parsed from it
        entries = results.read_journal(sweep_dir, histories=True)
        results.write_results(sweep_dir, entries)
        return results.read_results(sweep_dir), results.read_histories(sweep_dir, entries)

    def feed() -> list[list[dict]]:
        recorded = set(results.read_journal(sweep_dir))
        if not flow.due(recorded):
            return []
        decided = flow.decide(recorded, *tables())
        for k, entry, new in decided:
            rounds.extend({"round": n, "cells": []} for n in range(len(rounds) + 1, k + 1))
            if not any(c["runs"] == entry["runs"] for c in rounds[k - 1]["cells"]):
                rounds[k - 1]["cells"].append(entry)
                log.info("adaptive round %d: %d extra runs in %s", k, len(new), entry["cell"])
            added.extend(new)
        if decided:
            results.write_json(sweep_dir / "sweep.json", record)
        return [new for _, _, new in decided]

    counts = run_batches(SweepWork([specs], feed=feed, foresee=flow.forecast))
    specs += added
    runs, histories = tables()
    if not flow.done():
        log.warning("adaptive rounds: some cells could not decide their last round (runs missing)")
    record["rounds"] = flow.rounds_record(runs, histories)
    settings["stopped"] = flow.stopped(runs, histories)
    results.write_json(sweep_dir / "sweep.json", record)
    return counts


def run_sweep(
    work: SweepWork,
    sweep_dir: Path,
    parallel: Parallel,
    progress: bool = True,
    on_record: Callable[[str], None] | None = None,
) -> Counter:
    """Run every spec of `work.batches` (a grid) and `work.rounds` (each cell's seeds of an adaptive round)
    not yet finished in `sweep_dir`, and those `work.feed()` gives as the runs end (overlapped rounds: each
    cell's seeds of a round); returns counts by status/outcome. `work.foresee()` (after each feed) gives the
    runs still expected but not yet fed, (a spec of their cell, how many), for the progress bar's ETA.

    With parallel.stack_rows > 0, runs that share data and schedule train stacked (see nnscratch.train.stack):
    a grid's groups each in at least `parallel.stack_tasks` tasks, a cell's round whole (see plan_tasks,
    round_tasks). On loky, workers read the prepared data memory-mapped from the sweep folder and write their own
    records; on Dask (nnscratch.run.dask) the data is shipped to the workers and the records come
    back to this process, so the workers need no shared disk.
    `on_record(run_id)` is called in this process once for each record written (e.g. to log it).
    """
    since = time.time()
    runs_root = results.runs_dir(sweep_dir)
    in_flight(runs_root)  # leftovers of an interrupted sweep
    done = results.finished_ids(sweep_dir)
    batches, rounds, feed, foresee = work.batches, list(work.rounds), work.feed, work.foresee
    specs = [s for batch in [*batches, *rounds] for s in batch]
    planned = plan_tasks(batches, parallel.stack_rows, parallel.stack_tasks, done)
    planned += round_tasks(rounds, parallel.stack_rows, done)
    planned.sort(key=lambda t: -cost(t))  # stable: the grid's tasks before a round's of equal cost
    more = None
    if feed:

        def more() -> list[list[dict]]:
            fed = feed()
            if foresee:
                bar.foresee(foresee())
            return round_tasks(fed, parallel.stack_rows, results.finished_ids(sweep_dir)) if fed else []

    todo = [s for t in planned for s in t]
    counts = Counter()
    display = Display(progress, Path(sweep_dir).parent.name, Path(sweep_dir) / "progress.csv")
    bar = Progress(specs, done, display, on_record=on_record)
    log.info("%d runs to do (%d already finished), backend %s", len(todo), len(specs) - len(todo), parallel.backend)
    if foresee:
        bar.foresee(foresee())
    dispatch = Dispatch(planned, runs_root, parallel, counts, bar, more, specs if feed else None)
    try:
        with logging_redirect_tqdm():
            if parallel.backend == "dask":
                run_on_dask(dispatch)
            else:
                run_on_loky(dispatch, since)
    finally:
        bar.close()
        entries = results.read_journal(sweep_dir)
        results.write_results(sweep_dir, entries)
    # counted from the records, not the stream: a dead pool loses the summaries of runs it had finished
    mine = [e for e in entries.values() if e["written"] >= since]
    return Counter(e["status"] for e in mine) + Counter(e["outcome"] for e in mine if e["status"] == "finished")
