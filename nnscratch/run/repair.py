"""Fixes tried, not only suggested: each failed run trained again with its failure mode's fixes
(conf/diagnoses.yaml `fixes`), in order, on its own seed and data, until a try is healthy (`repaired`)
or the budget (`repair.max_tries`, `repair.iterations`) is spent. Each try is also judged against the
healthy bar (nnscratch.run.repair_bar): within the mode's points of the built-in default config trained on
the run's data, subset and seed; a repair is counted both ways (no longer failing, within the bar).

A run's repair is a chain of tries. Each try is the run's own overrides, the fixes kept so far and one
candidate fix. A try that still shows the mode being fixed drops its fix and the next candidate is
tried; one that trades the mode for another failure keeps its fix and goes on with the new mode's
fixes (zero weights on raw pixels: random weights, then the pixels scaled on top of them).

    python -m experiments.train train.lr=50 repair=true     one run: its tries one after another, here
    python -m experiments.repair sweep_dir=<folder>        every failed run of a sweep: the tries of a
                                                           round share the sweep's pool and stacking

A run's tries are written beside it and its record is never touched: <run>/repairs/<try>-<run id>/
(and reference-<run id>/, the healthy reference) and <run>/repairs.json for one run; <sweep>/repairs/
(a sweep folder of the tries and references) and <sweep>/repairs.csv (one row per try) for a sweep.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from nnscratch import data as datamod
from nnscratch import diagnose, results
from nnscratch.config.checks import ConfigError, parallel_settings
from nnscratch.config.grid import make_spec
from nnscratch.run.repair_bar import Bar, load_bar, merged, reference_spec, within
from nnscratch.run.repair_budget import Budget
from nnscratch.run.sweep import SweepWork, base_overrides, run_sweep
from nnscratch.run.task import run_single

log = logging.getLogger(__name__)
AXES = ["repair_of", "try", "fix"]  # how the tries' sweep folder records each try


@dataclass
class Chain:
    """One run's repair: the mode being fixed, its candidate fixes, the fixes kept, the tries so far."""

    run_id: str
    overrides: list[str]  # the run's own (its run keys only)
    diagnosis: str  # the run's headline
    mode: str  # the failure mode whose fixes are tried now
    fixes: list[str]  # that mode's fixes, formatted with the features of the run that showed it
    kept: list[str] = field(default_factory=list)
    tried: int = 0  # fixes of `mode` tried so far
    tries: list[dict] = field(default_factory=list)
    repaired_by: str | None = None
    bar_pts: float = 1.0  # the healthy bar of the run's mode: points below the reference (repair_bar)
    reference_id: str | None = None
    reference_acc: float | None = None  # the healthy reference's test accuracy, once it has run
    within_bar: bool = False  # whether the try that repaired the run is within the bar

    def next_fix(self, budget: Budget) -> str | None:
        """The next candidate, or None when repaired, out of fixes or out of budget."""
        if self.repaired_by is not None or len(self.tries) >= budget.max_tries:
            return None
        left = [f for f in self.fixes[self.tried :] if f not in self.kept]
        return left[0] if left else None

    def status(self) -> str:
        """repaired, or why not: no fix left, or the budget spent."""
        if self.repaired_by is not None:
            return "repaired"
        return "not repaired: " + ("no fix left" if not self.fixes[self.tried :] else "budget spent")


# ---------------------------------------------------------------- which mode, which fixes, healthy or not


def load_rules(path: Path | None = None) -> tuple[list[dict], list[dict]]:
    """(modes, the `repaired` clauses) of a diagnoses file (default conf/diagnoses.yaml)."""
    path = Path(path or diagnose.DIAGNOSES)
    return diagnose.load_modes(path), yaml.safe_load(path.read_text()).get("repaired", [])


def failing_mode(found: list[diagnose.Diagnosis], modes: list[dict]) -> dict | None:
    """The first of a run's modes that has fixes (its headline, unless the headline has none)."""
    by_name = {m["name"]: m for m in modes}
    return next((by_name[d.name] for d in found if by_name.get(d.name, {}).get("fixes")), None)


def fixes_of(mode: dict, features: dict) -> list[str]:
    """A mode's fixes as override lines, formatted with the run's features (e.g. train.lr={lr_tenth:g})."""
    return [diagnose.Numbers().format(f, **features) for f in mode.get("fixes", [])]


def judged(history, metrics: dict, config: dict, modes: list[dict], repaired: list[dict]) -> tuple[bool, list]:
    """(whether a try is healthy, its diagnoses): it finished, every `repaired` clause holds on its
    features, and none of its modes is a failure with fixes."""
    if metrics.get("status") != "finished":
        return False, []
    found = diagnose.diagnose(history, metrics, config, modes)
    features = diagnose.features(history, metrics, config)
    healthy = all(diagnose.holds(c, features) for c in repaired) and failing_mode(found, modes) is None
    return healthy, found


def start(spec: dict, history, metrics: dict, modes: list[dict], repaired: list[dict]) -> Chain | None:
    """The repair of a finished run, or None when it needs none (healthy) or has no fixes to try."""
    healthy, found = judged(history, metrics, spec["config"], modes, repaired)
    mode = None if healthy else failing_mode(found, modes)
    if mode is None:
        return None
    features = diagnose.features(history, metrics, spec["config"])
    head = found[0].name if found else None
    return Chain(spec["run_id"], base_overrides(spec["overrides"]), head, mode["name"], fixes_of(mode, features))


def needs_repair(spec: dict, history, metrics: dict, modes: list[dict], repaired: list[dict]) -> bool:
    """Whether a run failed (collapsed, diverged, or shows a failure mode) by the rules of the file."""
    return metrics.get("status") == "finished" and not judged(history, metrics, spec["config"], modes, repaired)[0]


# ---------------------------------------------------------------- one try


def try_overrides(chain: Chain, fix: str, budget: Budget) -> list[str]:
    """The run's own overrides, the kept fixes, `fix`, and the budget's iterations unless a fix sets them."""
    extra = [o for line in [*chain.kept, fix] for o in line.split()]
    if budget.iterations and not any(o.startswith("train.iterations=") for o in extra):
        extra.append(f"train.iterations={budget.iterations}")
    return merged(chain.overrides, extra)


def try_spec(chain: Chain, fix: str, budget: Budget) -> dict:
    """The run spec of a try; ConfigError if its overrides do not compose or validate."""
    values = {"repair_of": chain.run_id, "try": len(chain.tries) + 1, "fix": " ".join([*chain.kept, fix])}
    spec, problems = make_spec(try_overrides(chain, fix, budget), values, AXES)
    if spec is None or problems:
        raise ConfigError(f"fix '{fix}' for run {chain.run_id}: " + "; ".join(problems))
    return spec


@dataclass(frozen=True)
class Tried:
    """A try's run: its spec (None when it could not be made), its metrics and its history."""

    spec: dict | None
    metrics: dict
    history: pd.DataFrame


def record_try(chain: Chain, fix: str, tried: Tried, rules: tuple) -> None:
    """Judge a try and move the chain on: repaired; the mode traded for another failure (the fix is kept
    and the new mode's fixes come next); or still the same mode, or a failure no mode explains (the
    next of the mode's fixes comes next)."""
    spec, metrics, history = tried.spec, tried.metrics, tried.history
    modes, repaired = rules
    healthy, found = judged(history, metrics, spec["config"], modes, repaired) if spec else (False, [])
    chain.tries.append(
        {
            "try": len(chain.tries) + 1,
            "fixing": chain.mode,
            "fix": fix,
            "overrides": " ".join([*chain.kept, fix]),
            "try_run_id": spec["run_id"] if spec else None,
            "status": metrics.get("status"),
            "outcome": metrics.get("outcome"),
            "test_acc": metrics.get("test_acc"),
            "diagnosis": found[0].name if found else None,
            "healthy": healthy,
            "reference_acc": chain.reference_acc,
            "bar_pts": chain.bar_pts,
            "within_bar": within(metrics.get("test_acc"), chain.reference_acc, chain.bar_pts) if spec else False,
            "error": metrics.get("error"),
        }
    )
    new = failing_mode(found, modes)
    if healthy:
        chain.repaired_by, chain.within_bar = " ".join([*chain.kept, fix]), chain.tries[-1]["within_bar"]
    elif new is not None and not new.get("fallback") and chain.mode not in {d.name for d in found}:
        features = diagnose.features(history, metrics, spec["config"])
        chain.kept.append(fix)
        chain.mode, chain.fixes, chain.tried = new["name"], fixes_of(new, features), 0
    else:
        chain.tried += 1


# ---------------------------------------------------------------- one run, here


def read_history(run_dir: Path) -> pd.DataFrame:
    csv = Path(run_dir) / "history.csv"
    return pd.read_csv(csv) if csv.is_file() and csv.stat().st_size > 1 else pd.DataFrame()


def with_bar(chain: Chain, bar: Bar, budget: Budget) -> dict:
    """Set a chain's bar (its mode's points) and reference id; the reference's run spec."""
    spec = reference_spec(chain.overrides, bar, budget.iterations, AXES)
    chain.bar_pts, chain.reference_id = bar.points(chain.mode), spec["run_id"]
    return spec


def trained(spec: dict, folder: Path) -> dict:
    """The metrics of `spec` trained in `folder`, or read there when an earlier repair trained it."""
    done = Path(folder) / "metrics.json"
    return results.read_json(done) if done.is_file() else run_single(spec, folder)


def repair_run(run_dir: Path, budget: Budget, on_try=None, rules_path: Path | None = None) -> dict | None:
    """Repair the run in `run_dir` (a folder experiments.train wrote): its healthy reference in
    <run_dir>/repairs/reference-<run id>/, then its tries one after another in <run_dir>/repairs/<n>-<run id>/,
    the record in <run_dir>/repairs.json (also returned); None when the run needs no repair.
    `on_try(try record)` is called as each try ends."""
    run_dir, rules = Path(run_dir), load_rules(rules_path)
    rec = results.read_run(run_dir)
    chain = start(rec["run"], read_history(run_dir), rec["metrics"], *rules)
    if chain is None:
        return None
    reference = with_bar(chain, load_bar(rules_path), budget)
    folder = run_dir / "repairs" / f"reference-{reference['run_id']}"
    chain.reference_acc = trained(reference, folder).get("test_acc")
    while (fix := chain.next_fix(budget)) is not None:
        try:
            spec = try_spec(chain, fix, budget)
            folder = run_dir / "repairs" / f"{len(chain.tries) + 1}-{spec['run_id']}"
            metrics, history = trained(spec, folder), read_history(folder)
        except (ConfigError, datamod.DataError) as err:
            spec, metrics, history = None, {"status": "failed", "error": str(err)}, pd.DataFrame()
        record_try(chain, fix, Tried(spec, metrics, history), rules)
        if on_try:
            on_try(chain.tries[-1])
    record = chain_record(chain, budget)
    results.atomic_write_text(run_dir / "repairs.json", json.dumps(record, indent=2, default=str) + "\n")
    return record


def chain_record(chain: Chain, budget: Budget) -> dict:
    """What repairs.json keeps of a run's repair."""
    keep = asdict(chain)
    fields = ("run_id", "diagnosis", "tries", "repaired_by", "within_bar", "bar_pts", "reference_id", "reference_acc")
    return {k: keep[k] for k in fields} | {
        "status": chain.status(),
        "mode": chain.tries[0]["fixing"] if chain.tries else chain.mode,
        "budget": asdict(budget),
    }


# ---------------------------------------------------------------- every failed run of a sweep


def sweep_chains(sweep_dir: Path, rules: tuple) -> tuple[list[Chain], list[dict]]:
    """(a chain per failed run with fixes to try, the failed runs without any), from the sweep's records
    diagnosed again (whatever they recorded)."""
    chains, stuck = [], []
    histories = results.read_histories(sweep_dir)
    by_run = dict(tuple(histories.groupby("run_id"))) if len(histories) else {}
    for d in results.run_dirs(sweep_dir):
        rec = results.read_run(d)
        spec, metrics = rec["run"], rec["metrics"]
        history = by_run.get(spec["run_id"], pd.DataFrame()).drop(columns="run_id", errors="ignore")
        chain = start(spec, history, metrics, *rules)
        if chain is not None:
            chains.append(chain)
        elif needs_repair(spec, history, metrics, *rules):
            found = diagnose.diagnose(history, metrics, spec["config"], rules[0])
            stuck.append({"run_id": spec["run_id"], "mode": found[0].name if found else metrics.get("outcome")})
    return chains, stuck


def repair_sweep(sweep_dir: Path, parallel: dict, budget: Budget, progress: bool = True) -> Path:
    """Repair every failed run of a sweep: round k runs the k-th try of every chain still open (round 1
    also the healthy references, one per data, subset, seed and iterations), all through the sweep
    machinery (pool, stacking, progress) in <sweep_dir>/repairs/; the table of every try is
    <sweep_dir>/repairs.csv (also returned)."""
    sweep_dir, rules = Path(sweep_dir), load_rules()
    chains, stuck = sweep_chains(sweep_dir, rules)
    bar = load_bar()
    references = {r["run_id"]: r for r in [with_bar(c, bar, budget) for c in chains]}
    tries_dir = sweep_dir / "repairs"
    record = {"name": "repairs", "axes": AXES, "repairs_of": str(sweep_dir), "budget": asdict(budget)}
    results.write_json(tries_dir / "sweep.json", record | {"runs": [], "rounds": [], "sessions": []})
    log.info("repair: %d failed run(s) with fixes to try, at most %d tries each", len(chains), budget.max_tries)
    path = sweep_dir / "repairs.csv"
    for round_ in range(1, budget.max_tries + 1):
        todo = {id(c): (c, f) for c in chains if (f := c.next_fix(budget)) is not None}
        if not todo:
            break
        specs = {}
        for key, (chain, fix) in todo.items():
            try:
                specs[key] = try_spec(chain, fix, budget)
            except ConfigError as err:
                record_try(chain, fix, Tried(None, {"status": "failed", "error": str(err)}, pd.DataFrame()), rules)
        unique = list({s["run_id"]: s for s in specs.values()}.values())
        extra = list(references.values()) if round_ == 1 else []
        refs = f", {len(extra)} healthy reference(s)" if extra else ""
        log.info("repair round %d: %d tries%s", round_, len(unique), refs)
        run_sweep(SweepWork([unique + extra]), tries_dir, parallel_settings(parallel), progress)
        if extra:  # one reference serves every chain of its data, subset and seed: each read once
            acc = {r: try_metrics(tries_dir, r).get("test_acc") for r in {c.reference_id for c in chains}}
            for chain in chains:
                chain.reference_acc = acc[chain.reference_id]
        for key, spec in specs.items():
            chain, fix = todo[key]
            run_dir = results.runs_dir(tries_dir) / spec["run_id"]
            tried = Tried(spec, try_metrics(tries_dir, spec["run_id"]), read_history(run_dir))
            record_try(chain, fix, tried, rules)
        results.atomic_write_text(path, repairs_table(chains, stuck).to_csv(index=False))  # after each round
    results.atomic_write_text(path, repairs_table(chains, stuck).to_csv(index=False))
    return path


def try_metrics(tries_dir: Path, run_id: str) -> dict:
    """The metrics of a run of the tries' sweep folder ({} if it has none)."""
    path = results.runs_dir(tries_dir) / run_id / "metrics.json"
    return results.read_json(path) if path.is_file() else {}


REPAIR_COLUMNS = [
    *["run_id", "mode", "repaired", "repaired_by", "repaired_within_bar", "result"],
    *["try", "fixing", "fix", "overrides", "test_acc", "reference_acc", "within_bar"],
]


def repairs_table(chains: list[Chain], stuck: list[dict]) -> pd.DataFrame:
    """One row per try of every chain (run_id, the run's mode, whether and by what it was repaired and
    whether that try is within the healthy bar, the try's fix and result, its reference's test accuracy),
    and one row (try 0) per failed run that had nothing to try."""
    rows = [
        {
            "run_id": c.run_id,
            "mode": c.tries[0]["fixing"] if c.tries else c.mode,
            "repaired": c.repaired_by is not None,
            "repaired_by": c.repaired_by,
            "repaired_within_bar": c.within_bar,
            "result": c.status(),
        }
        | t
        for c in chains
        for t in c.tries
    ]
    none = {"repaired": False, "repaired_within_bar": False, "result": "not repaired: no fix to try", "try": 0}
    rows += [s | none for s in stuck]
    table = pd.DataFrame(rows, columns=None if rows else REPAIR_COLUMNS)
    return table[[c for c in REPAIR_COLUMNS if c in table] + [c for c in table if c not in REPAIR_COLUMNS]]


# ---------------------------------------------------------------- for people


def try_line(t: dict, budget: Budget) -> str:
    """One try as a line: its number, fix, result and what it shows."""
    if t["status"] != "finished":
        return f"repair: try {t['try']}/{budget.max_tries} {t['overrides']} -> not run: {t['error']}"
    verdict = "no longer failing" if t["healthy"] else f"not repaired ({t['diagnosis']})"
    return (
        f"repair: try {t['try']}/{budget.max_tries} {t['overrides']} -> test_acc {t['test_acc']:.4f}  "
        f"outcome {t['outcome']}  {verdict}, {bar_words(t['within_bar'], t['reference_acc'], t['bar_pts'])}"
    )


def bar_words(within_bar: bool, reference_acc: float | None, bar_pts: float) -> str:
    """Whether a try is within the healthy bar, and the reference it was judged by."""
    if reference_acc is None:
        return "no healthy reference to judge by"
    where = "within" if within_bar else "below"
    return f"{where} the bar (healthy reference {reference_acc:.4f} less {bar_pts:g} pt)"


def summary_line(record: dict, where: Path) -> str:
    """The repair's last line: the fix that worked, or that none did."""
    n = len(record["tries"])
    if record["repaired_by"] is not None:
        last = record["tries"][-1]
        return (
            f"repaired by {record['repaired_by']}: test_acc {last['test_acc']:.4f}, outcome {last['outcome']}, "
            f"{bar_words(record['within_bar'], record['reference_acc'], record['bar_pts'])} "
            f"(try {n} of at most {record['budget']['max_tries']}; {where})"
        )
    return f"{record['status']} after {n} tries ({where})"
