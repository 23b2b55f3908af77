"""Calibration of the verdicts: python -m experiments.calibrate [replications=N] [real_check=<dir>] [cost_of=<dir>]"""

import time

import hydra
from omegaconf import DictConfig, OmegaConf

from nnscratch import results
from nnscratch.claims import design, load_claims
from nnscratch.paths import CONF_DIR
from nnscratch.perf.calibration import Case, calibrate, real_cases
from nnscratch.perf.seed_cost import seed_cost


@hydra.main(config_path="../conf", config_name="calibrate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    started = time.time()
    claims = load_claims(CONF_DIR / cfg.claims)
    if cfg.confidence:
        claims["confidence"] = float(cfg.confidence)
    if cfg.sequential:
        claims["sequential"] = OmegaConf.to_container(cfg.sequential)
    boundary = design(claims)
    cases = [Case(**c) for c in OmegaConf.to_container(cfg.cases)]
    if cfg.real_check:
        runs = results.read_results(cfg.real_check)
        cases += real_cases(runs.loc[runs["status"] == "finished", "test_acc"].to_numpy(float), "test_acc")
    table = calibrate(cases, boundary, list(cfg.max_seeds), int(cfg.replications), int(cfg.seed), int(cfg.first))
    print(f"{cfg.replications:,} replications per case, seed {cfg.seed}; design: {boundary.record()['kind']}")
    for cap, rows in table.groupby("max_seeds"):
        print(f"\nmax_seeds = {cap}")
        print(rows.drop(columns="max_seeds").to_string(index=False, float_format=lambda x: f"{x:.4f}", na_rep="—"))
    for cap in list(cfg.max_seeds) if cfg.cost_of else []:
        cost = seed_cost(claims, cfg.cost_of, boundary, cap, int(cfg.first), int(cfg.replications) // 5, int(cfg.seed))
        print(f"\ncost of adaptive seeds to {cfg.cost_of} at max_seeds = {cap}:")
        print("\n".join(f"  {k}: {v:,.1f}" for k, v in cost.items()))
    print(f"\n{time.time() - started:.1f} s")


if __name__ == "__main__":
    main()
