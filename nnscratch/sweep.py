"""A sweep from start to end: resolve and validate the grid, lay out its folder, run, tabulate.

    outputs/<grid>/<timestamp>/
        sweep.json  environment.json  results.csv  runs/<run_id>/{config.json,metrics.json,history.csv}

Nothing is written until every cell of the grid has composed and validated.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path

from nnscratch import results
from nnscratch.compose import CONF_DIR
from nnscratch.config import ConfigError
from nnscratch.environment import environment
from nnscratch.grid import axis_names, expand, products
from nnscratch.runner import run_sweep

log = logging.getLogger(__name__)
RUN_KEYS = ("data", "model", "weights", "biases", "train", "seed", "fault")  # top-level keys of train.yaml
BACKENDS = ("loky", "dask")
NOT_COMPARED = ("parallel", "created", "sessions")  # may differ on resume


def base_overrides(cli_overrides: list[str]) -> list[str]:
    """The command-line overrides that set the run config, applied to every cell."""
    return [o for o in cli_overrides if o.lstrip("+~").split("=", 1)[0].split(".")[0] in RUN_KEYS]


def plan(grid: dict, cli_overrides: list[str], conf_dir: Path = CONF_DIR) -> tuple[dict, list[dict]]:
    """(sweep record, run specs) of a grid; ConfigError listing every problem if any cell is bad."""
    base = base_overrides(cli_overrides)
    specs, problems = expand(grid, base, conf_dir)
    if problems:
        raise ConfigError(f"sweep '{grid.get('name')}' is invalid, nothing was run:\n  " + "\n  ".join(problems))
    record = {
        "name": grid["name"],
        "axes": axis_names(grid),
        "products": products(grid),
        "base_overrides": base,
        "runs": [s["run_id"] for s in specs],
    }
    return record, specs


def check_resume(sweep_dir: Path, record: dict) -> None:
    """Refuse to resume a sweep whose resolved config differs from the one on disk."""
    if not (Path(sweep_dir) / "sweep.json").is_file():
        raise ConfigError(
            f"resume={sweep_dir}: no sweep.json there; give a folder a sweep wrote (outputs/<grid>/<timestamp>)"
        )
    on_disk = results.read_sweep(sweep_dir)
    diffs = [k for k in sorted(set(on_disk) | set(record)) if k not in NOT_COMPARED and on_disk.get(k) != record.get(k)]
    if diffs:
        raise ConfigError(
            f"resume={sweep_dir}: refusing, the resolved sweep differs from the one on disk in "
            f"{', '.join(diffs)}. Resume with the same sweep and overrides, or start a new sweep."
        )


def check_parallel(parallel: dict) -> None:
    """Refuse pool settings that cannot work, before anything runs."""
    problems = []
    if parallel.get("backend", "loky") not in BACKENDS:
        problems.append(f"parallel.backend: unknown '{parallel.get('backend')}' (allowed: {', '.join(BACKENDS)})")
    n_jobs = parallel.get("n_jobs")
    if n_jobs is not None and not (isinstance(n_jobs, int) and n_jobs >= 1):
        problems.append(f"parallel.n_jobs: must be null (one per core) or a whole number >= 1, got {n_jobs!r}")
    rows = parallel.get("stack_rows", 0)
    if not (isinstance(rows, int) and rows >= 0):
        problems.append(f"parallel.stack_rows: must be a whole number >= 0 (0 = no stacking), got {rows!r}")
    if problems:
        raise ConfigError("invalid parallel settings, nothing was run:\n  " + "\n  ".join(problems))


def new_sweep_dir(out_root: Path, name: str) -> Path:
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    path, n = Path(out_root) / name / stamp, 1
    while path.exists():
        path, n = Path(out_root) / name / f"{stamp}_{n}", n + 1
    return path


def run(
    grid: dict,
    parallel: dict,
    cli_overrides: list[str],
    out_root: Path = Path("outputs"),
    resume: str | None = None,
    conf_dir: Path = CONF_DIR,
    progress: bool = True,
) -> tuple[Path, Counter]:
    """Validate, then run every missing or failed run of the grid; (sweep dir, counts)."""
    check_parallel(parallel)
    record, specs = plan(grid, cli_overrides, conf_dir)
    record |= {"parallel": parallel, "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if resume:
        sweep_dir = Path(resume)
        check_resume(sweep_dir, record)
        record["created"] = results.read_sweep(sweep_dir).get("created")
    else:
        sweep_dir = new_sweep_dir(out_root, grid["name"])
    log.info("sweep '%s': %d runs -> %s", grid["name"], len(specs), sweep_dir)
    record["sessions"] = results.read_sweep(sweep_dir).get("sessions", []) if resume else []
    results.write_json(sweep_dir / "sweep.json", record)
    env_name = "environment.json" if not resume else f"environment-resumed-{time.strftime('%Y-%m-%d_%H-%M-%S')}.json"
    results.write_json(sweep_dir / env_name, environment(conf_dir.parent))
    started = time.time()
    try:
        counts = run_sweep(
            specs,
            sweep_dir,
            parallel.get("n_jobs"),
            parallel.get("backend", "loky"),
            progress,
            parallel.get("scheduler"),
            parallel.get("stack_rows", 0),
        )
    finally:  # wall time of this session, kept across resumes
        record["sessions"].append(
            {
                "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
                "wall_seconds": round(time.time() - started, 1),
                "parallel": parallel,
            }
        )
        results.write_json(sweep_dir / "sweep.json", record)
    return sweep_dir, counts
