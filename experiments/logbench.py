"""Logging overhead: python -m experiments.logbench [repeats=2] [trivial_runs=10000] [bulk_workers=2]
[trivial_dir=<a finished trivial sweep's folder, to log instead of running one>]
(benchmarks/logbench.py)"""

import time
from pathlib import Path

import hydra
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from benchmarks import logbench


@hydra.main(config_path="../conf", config_name="logbench", version_base="1.3")
def main(cfg: DictConfig) -> None:
    out = (Path(cfg.out_root) / time.strftime("%Y-%m-%d_%H-%M-%S")).resolve()
    uri = f"sqlite:///{out / 'mlflow.db'}"
    out.mkdir(parents=True)
    print(f"store ready in {logbench.warm_store(uri):.1f} s (a new SQLite store: its migrations)", flush=True)
    if cfg.repeats:
        grids = {name: list(extra) for name, extra in cfg.grids.items()}
        table = logbench.sweep_overhead(grids, out, uri, cfg.repeats)
        table.to_csv(out / "overhead.csv", index=False)
        summary = logbench.overhead_summary(table)
        summary.to_csv(out / "overhead_summary.csv", index=False)
        print(summary.to_string(index=False, float_format="%.1f"))
    if cfg.trivial_runs:
        parallel = OmegaConf.to_container(cfg.parallel, resolve=True)
        made = Path(cfg.trivial_dir).resolve() if cfg.trivial_dir else None
        row = logbench.relog_trivial(cfg.trivial_runs, out / "trivial", uri, parallel, cfg.bulk_workers, made)
        pd.DataFrame([row]).to_csv(out / "relog.csv", index=False)
        print(pd.DataFrame([row]).drop(columns="sweep_dir").to_string(index=False, float_format="%.2f"))
    print(f"-> {out}")


if __name__ == "__main__":
    main()
