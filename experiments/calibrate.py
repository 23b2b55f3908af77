"""Calibration of the verdicts: python -m experiments.calibrate [replications=N] [real_check=outputs/real_check/<ts>]"""

import time

import hydra
from omegaconf import DictConfig, OmegaConf

from nnscratch import results
from nnscratch.claims import design, load_claims
from nnscratch.paths import CONF_DIR
from nnscratch.perf.calibration import Case, calibrate, real_cases


@hydra.main(config_path="../conf", config_name="calibrate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    started = time.time()
    boundary = design(load_claims(CONF_DIR / cfg.claims))
    cases = [Case(**c) for c in OmegaConf.to_container(cfg.cases)]
    if cfg.real_check:
        runs = results.read_results(cfg.real_check)
        cases += real_cases(runs.loc[runs["status"] == "finished", "test_acc"].to_numpy(float), "test_acc")
    table = calibrate(cases, boundary, list(cfg.max_seeds), int(cfg.replications), int(cfg.seed), int(cfg.first))
    print(f"{cfg.replications:,} replications per case, seed {cfg.seed}; design: {boundary.record()['kind']}")
    for cap, rows in table.groupby("max_seeds"):
        print(f"\nmax_seeds = {cap}")
        print(rows.drop(columns="max_seeds").to_string(index=False, float_format=lambda x: f"{x:.4f}", na_rep="—"))
    print(f"\n{time.time() - started:.1f} s")


if __name__ == "__main__":
    main()
