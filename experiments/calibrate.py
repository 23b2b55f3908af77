"""Calibration of the verdicts: python -m experiments.calibrate [replications=N] [real_check=<dir>] [cost_of=<dir>]
[replay_of=<dir>]"""

import time

import hydra
from omegaconf import DictConfig, OmegaConf

from benchmarks.calibration import Case, calibrate, real_cases
from benchmarks.seed_cost import replay, seed_cost
from nnscratch import results
from nnscratch.claims import design, load_claims
from nnscratch.paths import CONF_DIR

TARGET = 0.05  # the chance of a wrong decision every law must stay within
POWER = 0.95  # the chance a normal 1.4 sd effect is decided right within the design's seeds (issue 41)
SEEDS = 7.5  # the seeds a cell on its threshold may use on average (issue 41)


def as_case(given: dict) -> Case:
    return Case(**(given | {"seeds": tuple(given.get("seeds", (0, 1, 2)))}))


def targets(rows) -> str:
    """One rule's figures against issue 41's targets: worst error, a threshold cell's seeds, power at 1.4 sd."""
    worst = rows.loc[rows["P(wrong)"].idxmax()]
    edge = rows.loc[rows["truth"] == "neither", "mean seeds"]
    power = rows[rows["case"].str.startswith("power")].iloc[0]
    return (
        f"worst P(wrong) {worst['P(wrong)']:.4f} ({worst['case']}; target ≤ {TARGET}); a cell on its threshold "
        f"uses {edge.mean():.2f} seeds on average ({edge.min():.2f}–{edge.max():.2f} over the laws; target ≤ {SEEDS}); "
        f"{power['case']}: decided right {power['P(right)']:.4f} (target ≥ {POWER}) at {power['mean seeds']:.2f} seeds"
    )


@hydra.main(config_path="../conf", config_name="calibrate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    started = time.time()
    claims = load_claims(CONF_DIR / cfg.claims)
    if cfg.confidence:
        claims["confidence"] = float(cfg.confidence)
    if cfg.sequential:
        claims["sequential"] = OmegaConf.to_container(cfg.sequential)
    test = design(claims)
    cases = [as_case(c) for c in OmegaConf.to_container(cfg.cases)]
    if cfg.real_check:
        runs = results.read_results(cfg.real_check)
        cases += real_cases(runs.loc[runs["status"] == "finished", "test_acc"].to_numpy(float), "test_acc")
    table = calibrate(cases, test, int(cfg.max_seeds), int(cfg.replications), int(cfg.seed), int(cfg.first))
    print(f"{cfg.replications:,} replications per case, seed {cfg.seed}, max_seeds {cfg.max_seeds}")
    print(f"design: {test.record()['kind']}; {test.guarantee()}")
    for rule, rows in table.groupby("rule", sort=False):
        print(
            f"\n{rule}: P(wrong) = a decision on the wrong side of the {rows['states'].iloc[0]} (any, where 'neither')"
        )
        shown = rows.drop(columns=["rule", "states"])
        print(shown.to_string(index=False, float_format=lambda x: f"{x:.4f}", na_rep="—"))
    for rule, rows in table[table["rule"].str.startswith("binomial")].groupby("rule", sort=False):
        print(f"\n{rule}: {targets(rows[~rows['case'].str.contains('(before)', regex=False)])}")
    if cfg.cost_of:
        cost = seed_cost(
            claims, cfg.cost_of, test, int(cfg.max_seeds), int(cfg.first), int(cfg.replications) // 5, int(cfg.seed)
        )
        print(f"\ncost of adaptive seeds to {cfg.cost_of} at max_seeds = {cfg.max_seeds}:")
        print("\n".join(f"  {k}: {v:,.1f}" for k, v in cost.items()))
    if cfg.replay_of:
        for name, stop in (("the design above", claims), ("no futility stop", no_futility(claims))):
            print(f"\n{cfg.replay_of}'s adaptive rounds replayed on its own runs, {name}, max_seeds {cfg.max_seeds}:")
            print(replay_text(replay(stop, cfg.replay_of, int(cfg.max_seeds), int(cfg.first))))
    print(f"\n{time.time() - started:.1f} s")


def no_futility(claims: dict) -> dict:
    return claims | {"sequential": dict(claims.get("sequential") or {}) | {"futility": None}}


def replay_text(found: dict) -> str:
    """seed_cost.replay's figures, a line each (lists and verdicts indented below their name)."""
    share = 1 - found["run-seconds"] / found["run-seconds in the folder"]
    lines = [
        f"  runs {found['runs']} of the folder's {found['runs in the folder']}; "
        f"run-seconds {found['run-seconds']:,.0f} of {found['run-seconds in the folder']:,.0f} ({share:.1%} saved); "
        f"{found['rounds']} rounds; "
        f"run cells wanted beyond the record: {found['cells wanted beyond the record']}"
    ]
    differ = {k: v for k, v in found["verdicts (replay, folder)"].items() if v[0] != v[1]}
    lines.append(f"  verdicts that differ from the folder's: {differ or 'none'}")
    for key in ("cells changed or stopped for futility", "run cells given fewer seeds"):
        lines.append(f"  {key}: {len(found[key])}")
        lines += [f"    {x}" for x in found[key]]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
