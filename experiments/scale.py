"""Scale benchmark: python -m experiments.scale [sizes=[1000,10000,100000]]  (see benchmarks/scale.py)"""

import time
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from benchmarks import scale


@hydra.main(config_path="../conf", config_name="scale", version_base="1.3")
def main(cfg: DictConfig) -> None:
    out = Path(cfg.out_root) / time.strftime("%Y-%m-%d_%H-%M-%S")
    parallel = OmegaConf.to_container(cfg.parallel, resolve=True)
    table = scale.scale_benchmark(list(cfg.sizes), out, parallel)
    table.to_csv(out / "scale.csv", index=False)
    growth = scale.growth(table)
    growth.to_csv(out / "growth.csv")
    print(table.drop(columns="sweep_dir").to_string(index=False, float_format="%.3f"))
    print(growth.to_string(float_format="%.2f"))
    print(f"-> {out}/scale.csv, growth.csv")


if __name__ == "__main__":
    main()
