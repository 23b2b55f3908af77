"""The progress bar's ETA, replayed: what a sweep's bar was told (progress_events.jsonl: its tasks, the runs'
progress, each run's end, the adaptive seeds foreseen; nnscratch.run.progress.Progress.note) told again, at the
same seconds, to a Progress, or to a variant of it, and its ETA at each sample set against the time the sweep
actually had left. The replay of the bar itself gives back the ETA it showed (progress.csv): an estimate can
then be tried on a real sweep's own course without running the sweep again. With adaptive rounds, the seeds
foreseen are also foreseen again by today's nnscratch.run.overlap, told at each moment the runs recorded by
then ("foreseen again"): its decisions are the sweep's own, so only the forecast differs.

    python -m benchmarks.eta_replay outputs/log_grid/<folder>
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from nnscratch import results
from nnscratch.claims import for_dataset, load_claims
from nnscratch.report import claims_file_of
from nnscratch.run.overlap import OverlappedRounds
from nnscratch.run.progress import EVENTS, Display, Progress


def sessions(sweep_dir: Path) -> list[dict]:
    """Each session's events, in the order the sessions ran."""
    with open(Path(sweep_dir) / EVENTS) as f:
        return [json.loads(line) for line in f if line.strip()]


def run_specs(sweep_dir: Path) -> dict[str, dict]:
    """{run_id: its spec}, from each run's record (config.json)."""
    out = {}
    for path in (Path(sweep_dir) / "runs").glob("*/config.json"):
        record = json.loads(path.read_text())
        out[record["run_id"]] = record  # run_id, overrides, command, axes, config: the spec it ran from
    return out


def replay(events: list[list], specs: dict[str, dict], bar_type: type[Progress] = Progress) -> pd.DataFrame:
    """The trail (Progress.trail) a `bar_type` keeps when told `events` at their seconds."""
    now = [0.0]
    (_, kind, (ids, done)), rest = events[0], events[1:]
    assert kind == "start", f"the events begin with {kind!r}, not the bar's start"
    bar = bar_type([specs[r] for r in ids], set(done), Display(False, "replay"), clock=lambda: now[0])
    tell = {
        "plan": lambda p: bar.plan(*p),
        "add": lambda p: bar.add([[specs[r] for r in task] for task in p]),
        "foresee": lambda p: bar.foresee([(specs[r], *seen, 1.0)[:3] for r, *seen in p]),  # rounds: 1 if not kept
        "moving": bar.moving,
        "ended": lambda p: bar.ended(*p),
    }
    for at, kind, payload in rest:
        if kind == "not kept":  # the bar kept no more (Progress.MAX_EVENTS): the replay ends here
            break
        now[0] = at
        tell[kind](payload)
    return pd.DataFrame(bar.trail)


def foreseen_again(sweep_dir: Path, events: list[list], specs: dict[str, dict]) -> list[list]:
    """`events` with each `foresee` as today's OverlappedRounds.forecast gives it, its rounds decided on the
    runs recorded (ended) before that moment, as the sweep's feed decided them."""
    record = results.read_sweep(sweep_dir)
    settings, runs, histories = record["adaptive"], results.read_results(sweep_dir), results.read_histories(sweep_dir)
    claims = for_dataset(load_claims(claims_file_of(record)), results.dataset_of(sweep_dir))
    flow = OverlappedRounds(claims, record["axes"], [specs[r] for r in record["runs"]], settings["max_seeds"])
    recorded, out = set(), []
    for at, kind, payload in events:
        if kind == "ended":
            recorded.add(payload[0])
        if kind == "not kept":
            break
        if kind == "foresee":
            if flow.due(recorded):
                ids = runs["run_id"].isin(recorded)
                flow.decide(recorded, runs[ids], histories[histories["run_id"].isin(recorded)])
            payload = [[s["run_id"], n, k] for s, n, k in flow.forecast()]
        out.append([at, kind, payload])
    return out


def accuracy(trail: pd.DataFrame, wall: float, after_s: float = 60.0, min_left_s: float = 5.0) -> dict:
    """ETA over the time actually left (`wall` - elapsed), at each sample from `after_s` on with more than
    `min_left_s` left: its median, its worst either way, and the share of samples within 1.5x either way."""
    later = trail[(trail["elapsed_s"] >= after_s) & (trail["elapsed_s"] <= wall - min_left_s)]
    ratio = later["eta_s"] / (wall - later["elapsed_s"])
    factor = np.maximum(ratio, 1 / ratio)
    return {
        "samples": len(later),
        "median_ratio": round(float(ratio.median()), 3),
        "worst_factor": round(float(factor.max()), 3),
        "within_1.5x": round(float((factor <= 1.5).mean()), 3),
    }


def compare(sweep_dir: Path, variants: dict[str, type[Progress]]) -> pd.DataFrame:
    """The last session's ETA as shown (progress.csv) and as each variant replays it."""
    events = sessions(sweep_dir)[-1]["events"]
    shown = pd.read_csv(Path(sweep_dir) / "progress.csv")
    shown = shown[shown["session"] == shown["session"].iloc[-1]]
    wall = float(shown["elapsed_s"].iloc[-1])
    specs = run_specs(sweep_dir)
    rows = [{"estimate": "shown (progress.csv)"} | accuracy(shown, wall)]
    rows += [{"estimate": name} | accuracy(replay(events, specs, kind), wall) for name, kind in variants.items()]
    if (results.read_sweep(sweep_dir).get("adaptive") or {}).get("overlap"):
        again = foreseen_again(sweep_dir, events, specs)
        rows.append({"estimate": "foreseen again"} | accuracy(replay(again, specs), wall))
    return pd.DataFrame(rows)


if __name__ == "__main__":
    if len(sys.argv) != 2 or not (Path(sys.argv[1]) / EVENTS).is_file():
        sys.exit(f"usage: python -m benchmarks.eta_replay <sweep folder> (one with {EVENTS}: outputs/<grid>/<time>)")
    print(compare(Path(sys.argv[1]), {"replayed": Progress}).to_string(index=False))
