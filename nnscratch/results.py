"""The one schema of what runs and sweeps write, and the only code that reads it back.

A run directory (a single run's out_dir, or ``<sweep_dir>/runs/<run_id>/``) holds

    config.json    {"run_id", "overrides", "command", "axes", "config"}   what was run
    metrics.json   {"status": "finished" | "failed", "error", "outcome", "test_acc", ...}
    history.csv    one row per evaluation: iteration, loss, train_acc, test_acc, dead_l1, ...

A sweep directory holds ``sweep.json`` (the resolved sweep: name, axes, products, base overrides,
parallel settings, run ids), ``environment.json``, ``results.csv`` (one tidy row per run) and
``runs/``. Every file is written atomically (temporary name, then rename), so a crash leaves either
the old file or the new one, never half of one.

Folders may come from someone else, edited or cut short: every reader here takes a file that is not
what it should be (a run's JSON that does not parse or lacks its keys, a history.csv that does not
parse, a journal line cut short or edited) as that run's problem: one line names the file and what
is wrong (DamagedRecord, logged), that run is left out (a resume runs it again), the rest goes on.

Beside ``runs/``, ``journal/<writer>.jsonl`` holds one line per record written, appended by the
process that wrote the record, right after it: an entry as a JSON array (when, which folder, run id,
status, outcome, and its results.csv line already rendered), a tab, its history. Each process has its
own file, so no two ever append to the same one. results.csv (header + the lines sorted by folder),
resume and the counts read the journal, not 100,000 records; the folders stay the truth: a line whose
folder is gone is dropped, and a folder newer than its line or without one (its writer died between
the two writes, or someone edited it) is read and journaled again.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)
SEED = "seed"  # the axis that tells a cell's repeats apart: tables, claims and adaptive rounds group by the rest
RESULT_COLUMNS = [
    "status",
    "outcome",
    "train_acc",
    "test_acc",
    "best_test_acc",
    "loss",
    "test_classes",
    "majority_rate",
    "dead_l1",
    "distinct_l1",
    "iteration",
    "seconds",
    "live_fraction",
    "stacked_with",
    "diagnosis",
    "diagnoses",
    "diagnosis_evidence",
    "diagnosis_fix",
    "error",
    "command",
]


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old or the new content, never a mix."""
    atomic_write_bytes(path, text.encode())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old or the new content, never a mix, even after
    a power cut (written and synced under a temporary name, then renamed). A write that fails (a full
    disk: OSError ENOSPC) leaves the old content and no temporary file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def disk_full_message(sweep_dir: Path, err: OSError, what: str, runs_left: int) -> str:
    """One line: the folder, what failed, the space left, about what the runs left need, how to go on."""
    free = shutil.disk_usage(next(p for p in (sweep_dir, *sweep_dir.parents) if p.exists())).free
    records = [f for d in ("runs", "journal") for f in (sweep_dir / d).rglob("*") if f.is_file()]
    recorded = len(run_dirs(sweep_dir)) if sweep_dir.exists() else 0
    need = ""
    if recorded and runs_left:
        each = sum(f.stat().st_size for f in records) / recorded
        need = f"; the {runs_left} run(s) left need about {mb(each * runs_left)} more ({mb(each)} a run so far)"
    return (
        f"{sweep_dir}: the disk is full ({err.strerror}{f': {err.filename}' if err.filename else ''}) "
        f"while writing {what}; "
        f"{mb(free)} free there{need}. Every record written is whole: free space there (or move the folder "
        f"to a larger disk), then run the same command with resume={sweep_dir}"
    )


def mb(n: float) -> str:
    return f"{n / 1e6:.2f} MB"


def write_json(path: Path, obj: dict) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, default=str) + "\n")


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def write_run(run_dir: Path, run: dict, metrics: dict, history: list[dict]) -> None:
    """Write one run's three files into a fresh folder, then move it into place in one rename."""
    run_dir = Path(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=run_dir.parent, prefix=f".{run_dir.name}."))
    try:
        write_run_files(tmp, run, metrics, history)
    except BaseException:  # a full disk: no half-written folder is left
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if run_dir.exists():  # a failed run being redone: swap, then drop the old record
        old = run_dir.with_name(f".{run_dir.name}.old")
        os.replace(run_dir, old)
        os.replace(tmp, run_dir)
        shutil.rmtree(old)
    else:
        os.replace(tmp, run_dir)


def write_run_files(run_dir: Path, run: dict, metrics: dict, history: list[dict]) -> None:
    """Write one run's three files into `run_dir`, each atomically, metrics.json (the sign of a
    complete record) last; whatever else the folder holds (Hydra's .hydra/) stays."""
    atomic_write_text(run_dir / "config.json", json.dumps(run, indent=2, default=str) + "\n")
    atomic_write_text(run_dir / "history.csv", pd.DataFrame(history).to_csv(index=False))
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2, default=str) + "\n")


class DamagedRecord(ValueError):
    """A file of a run's record that is not what it should be (cut short, edited by hand); its message
    names the file and what is wrong."""


# what every reader needs of a run's JSON files: {file: {key: (its type, required)}}
RECORD_KEYS = {"config.json": {"run_id": (str, True), "axes": (dict, False)}, "metrics.json": {"status": (str, True)}}


def read_run(run_dir: Path) -> dict:
    """{"run": config.json, "metrics": metrics.json} of one run folder; DamagedRecord if either does not
    parse as JSON or lacks what every reader needs of it."""
    run, metrics = (read_record(Path(run_dir) / name) for name in ("config.json", "metrics.json"))
    return {"run": run, "metrics": metrics}


def read_record(path: Path) -> dict:
    """One JSON file of a run's record, checked for the keys (and their types) every reader needs."""
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise DamagedRecord(f"{path}: cannot be read as JSON ({type(err).__name__}: {err})") from None
    needs = RECORD_KEYS[Path(path).name]
    wrong = [
        k
        for k, (kind, required) in needs.items()
        if not isinstance(value, dict) or not (isinstance(value.get(k), kind) or (not required and k not in value))
    ]
    if wrong:
        raise DamagedRecord(f"{path}: lacks {', '.join(wrong)} (or holds another type), as no writer leaves it")
    return value


def read_history_csv(path: Path) -> list[dict]:
    """A run's history.csv as rows (empty: a failed run's); DamagedRecord if it does not parse."""
    try:
        return pd.read_csv(path).to_dict("records") if Path(path).stat().st_size > 1 else []
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise DamagedRecord(f"{path}: cannot be read as CSV ({type(err).__name__}: {str(err).strip()[:200]})") from None


def runs_dir(sweep_dir: Path) -> Path:
    """Where a sweep's run folders are: runs/, or a Hydra multirun's own folder (one per job)."""
    return Path(sweep_dir) if is_multirun(sweep_dir) else Path(sweep_dir) / "runs"


def is_sweep(folder: Path) -> bool:
    """A folder that `python -m experiments.sweep` wrote (its sweep.json)."""
    return (Path(folder) / "sweep.json").is_file()


def is_multirun(folder: Path) -> bool:
    """A folder that `python -m experiments.train -m ...` (a Hydra multirun) wrote."""
    return (Path(folder) / "multirun.yaml").is_file() and not is_sweep(folder)


def multirun_record(folder: Path) -> dict:
    """A Hydra multirun read as a sweep: its axes are the keys its jobs swept, which each job records
    in its config.json (nnscratch.config.grid.single_spec)."""
    first = next((read_json(d / "config.json") for d in run_dirs(folder)), {"axes": {}})
    return {"name": "multirun", "axes": list(first.get("axes") or {}), "multirun": True}


def run_dirs(sweep_dir: Path) -> list[Path]:
    """Complete run folders of a sweep (temporary and half-written ones skipped)."""
    return complete_runs(runs_dir(sweep_dir))


def complete_runs(root: Path) -> list[Path]:
    """The complete run folders in `root` (a sweep's runs/, a multirun, or a day folder of single runs)."""
    if not root.is_dir():
        return []
    return sorted(d for d in root.iterdir() if not d.name.startswith(".") and (d / "metrics.json").is_file())


def read_sweep(sweep_dir: Path) -> dict:
    """The resolved sweep config (sweep.json), or a multirun's (multirun_record)."""
    return multirun_record(sweep_dir) if is_multirun(sweep_dir) else read_json(Path(sweep_dir) / "sweep.json")


def dataset_of(sweep_dir: Path) -> str:
    """The dataset a sweep trained on (from its first run's config)."""
    dirs = run_dirs(sweep_dir)
    return read_json(dirs[0] / "config.json")["config"]["data"]["name"] if dirs else "unknown"


def axes(sweep_dir: Path) -> list[str]:
    """The names of the sweep's axes, in the order the grid declares them."""
    return list(read_sweep(sweep_dir)["axes"])


def result_row(run: dict, metrics: dict) -> dict:
    """One row of results.csv: run_id, every axis value, the final metrics, status and command."""
    row = {"run_id": run["run_id"], **(run.get("axes") or {})}
    return row | {c: metrics.get(c) for c in RESULT_COLUMNS if c != "command"} | {"command": run.get("command")}


def csv_line(values: list) -> str:
    """`values` as one line of CSV (None as an empty field), as pandas reads it back."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue()


ENTRY = ("written", "dir", "run_id", "status", "outcome", "line")  # a journal line's head: a JSON array of these


def journal_entry(written: float, folder: str, row: dict) -> dict:
    """What the journal keeps of a record: enough to resume and count, and its results.csv line."""
    keep = {"run_id": row["run_id"], "status": row["status"], "outcome": row["outcome"]}
    return {"written": written, "dir": folder, **keep, "line": csv_line(list(row.values()))}


def record_run(sweep_dir: Path, run: dict, metrics: dict, history: list[dict]) -> dict:
    """Write one run of a sweep (its folder, then its journal line); its results row."""
    write_run(runs_dir(sweep_dir) / run["run_id"], run, metrics, history)
    row = result_row(run, metrics)
    append_journal(sweep_dir, journal_entry(time.time(), run["run_id"], row), history)
    return row


def append_journal(sweep_dir: Path, entry: dict, history: list[dict]) -> dict:
    """Append one entry to this process's own journal file: one line, the entry and its history as
    JSON separated by a tab (JSON escapes tabs), so tables can read entries without the histories."""
    folder = Path(sweep_dir) / "journal"
    folder.mkdir(exist_ok=True)
    text = json.dumps(history, default=str)
    with open(folder / f"{socket.gethostname()}-{os.getpid()}.jsonl", "a") as f:
        f.write(json.dumps([entry[k] for k in ENTRY], default=str) + "\t" + text + "\n")
    return entry | {"history": text}


@contextmanager
def bulk() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while building 100,000s of small objects that hold no
    cycles: its passes over them would make reading a journal grow faster than the journal."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@bulk()
def read_journal(sweep_dir: Path, histories: bool = False) -> dict[str, dict]:
    """{run folder: latest journal entry} of every recorded run of a sweep (see the module docstring);
    with `histories`, each entry's "history" as JSON text (read_histories parses it)."""
    entries: dict[str, dict] = {}
    for path in sorted((Path(sweep_dir) / "journal").glob("*.jsonl")):
        with open(path, newline="\n") as f:  # line by line: a 100 MB journal is never in memory at once
            for number, line in enumerate(f, start=1):
                if not line.endswith("\n"):  # a line its writer died writing (a full disk, a SIGKILL)
                    said(f"{path}: its last line is cut short: that run is read from its folder")
                    continue
                tab = line.find("\t")
                try:
                    values = json.loads(line[:tab])
                except json.JSONDecodeError:
                    values = None
                if not is_entry(values):  # cut short, edited, or an older version's: the run is read from its folder
                    said(f"{path}: line {number} is not a journal entry: that run is read from its folder")
                    continue
                entry = dict(zip(ENTRY, values))  # (an array, not an object: 100,000 parses allocate half as much)
                if histories:
                    entry["history"] = line[tab + 1 : -1]
                rid = entry["dir"]
                if rid not in entries or entry["written"] >= entries[rid]["written"]:
                    entries[rid] = entry
    root = runs_dir(sweep_dir)
    folders = [e.name for e in os.scandir(root) if not e.name.startswith(".")] if root.is_dir() else []
    journaled = {r: entries[r] for r in folders if r in entries}
    for rid in folders:  # a folder newer than its line, or without one: read it
        try:
            written = os.stat(f"{root}/{rid}/metrics.json").st_mtime  # (pathlib: half the time here)
        except OSError:  # not a run folder (a multirun's own files)
            continue
        if rid not in journaled or written > journaled[rid]["written"]:
            try:
                journaled[rid] = journal_from_folder(sweep_dir, root / rid)
            except DamagedRecord as err:
                said(f"{err}: run {rid} is left out (a resume runs it again)")
                journaled.pop(rid, None)
    return journaled


_said: set[str] = set()  # a damaged file is read many times in a session (every count, every table): said once


def said(problem: str) -> None:
    """Log a damaged file's problem (one line), once per process."""
    if problem not in _said:
        _said.add(problem)
        log.warning(problem)


def is_entry(values) -> bool:
    """Whether a journal line's head is an entry of this version (ENTRY's fields, of their types)."""
    kinds = (int | float, str, str, str, str | None, str)
    return isinstance(values, list) and len(values) == len(ENTRY) and all(map(isinstance, values, kinds))


def journal_from_folder(sweep_dir: Path, run_dir: Path) -> dict:
    """A journal entry rebuilt from a run folder, appended to this process's journal; DamagedRecord if
    the folder's files do not read."""
    rec, history = read_run(run_dir), read_history_csv(run_dir / "history.csv")
    row = result_row(rec["run"], rec["metrics"])
    entry = journal_entry((run_dir / "metrics.json").stat().st_mtime, run_dir.name, row)
    return append_journal(sweep_dir, entry, history)


def finished_ids(sweep_dir: Path) -> set[str]:
    """Ids of runs in the sweep whose record says finished."""
    return {r for r, e in read_journal(sweep_dir).items() if e["status"] == "finished"}


def recorded_since(sweep_dir: Path, since: float) -> set[str]:
    """Ids of runs whose record was written at or after time `since` (seconds since the epoch)."""
    return {r for r, e in read_journal(sweep_dir).items() if e["written"] >= since}


def result_columns(sweep_dir: Path) -> list[str]:
    """The columns of results.csv: run_id, every axis, the final metrics, status and command."""
    return ["run_id", *axes(sweep_dir), *RESULT_COLUMNS]


@bulk()
def write_results(sweep_dir: Path, entries: dict[str, dict] | None = None) -> int:
    """Rebuild results.csv from the records (journal, healed from the folders): its header, then the
    journaled lines sorted by run folder, with no table built in between; the number of runs."""
    entries = read_journal(sweep_dir) if entries is None else entries
    lines = [entries[rid]["line"] for rid in sorted(entries)]
    tracked = tracked_ids(sweep_dir)
    if tracked:  # one more column per tracker the runs were logged to
        lines = [
            line[:-1] + "," + csv_line([ids.get(rid) for ids in tracked.values()])
            for rid, line in zip(sorted(entries), lines)
        ]
    header = csv_line([*result_columns(sweep_dir), *tracked])
    atomic_write_text(Path(sweep_dir) / "results.csv", header + "".join(lines))
    return len(lines)


TRACKED = "tracked"  # <sweep>/tracked/<tracker>.jsonl: {"dir": run folder, "id": the tracker's run id} a line


def tracked_ids(sweep_dir: Path) -> dict[str, dict[str, str]]:
    """{"<tracker>_run_id": {run folder: the tracker's id of it}} of each tracker (nnscratch.loggers)
    the sweep's runs were logged to; the latest line of a folder wins."""
    out = {}
    for path in sorted((Path(sweep_dir) / TRACKED).glob("*.jsonl")):
        ids = {}
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
                ids[entry["dir"]] = entry["id"]
            except (ValueError, KeyError, TypeError):  # a line its writer died writing
                continue
        out[f"{path.stem}_run_id"] = ids
    return out


def append_tracked(sweep_dir: Path, tracker: str, ids: dict[str, str]) -> None:
    """Record the tracker's run id of each run folder logged (read back by tracked_ids)."""
    folder = Path(sweep_dir) / TRACKED
    folder.mkdir(exist_ok=True)
    with open(folder / f"{tracker}.jsonl", "a") as f:
        f.write("".join(json.dumps({"dir": d, "id": i}) + "\n" for d, i in ids.items()))


def read_results(sweep_dir: Path) -> pd.DataFrame:
    """results.csv of a sweep."""
    return pd.read_csv(Path(sweep_dir) / "results.csv")


def read_histories(sweep_dir: Path, entries: dict[str, dict] | None = None) -> pd.DataFrame:
    """Every run's history stacked, with a run_id column, for learning curves (`entries`: the journal as
    read_journal(sweep_dir, histories=True) gave it, when the caller has it)."""
    entries = read_journal(sweep_dir, histories=True) if entries is None else entries
    rows = [h | {"run_id": e["run_id"]} for _, e in sorted(entries.items()) for h in history_of(sweep_dir, e)]
    return pd.DataFrame(rows)


def history_of(sweep_dir: Path, entry: dict) -> list[dict]:
    """A journal entry's history (read_journal with `histories`); empty, said in one line, if its text
    is not a list of rows."""
    try:
        rows = json.loads(entry["history"])
        if isinstance(rows, list) and all(isinstance(r, dict) for r in rows):
            return rows
    except ValueError:
        pass
    said(f"{Path(sweep_dir) / 'journal'}: the history of run {entry['dir']} is not a list of rows: left out")
    return []
