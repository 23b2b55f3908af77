"""One training run: python -m experiments.train [hydra overrides], e.g. model.hidden=[64] data.subset=60000"""

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from nnscratch.compose import command, plain, run_id
from nnscratch.config import ConfigError
from nnscratch.data import DataError
from nnscratch.runner import run_single


@hydra.main(config_path="../conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    overrides = list(HydraConfig.get().overrides.task)
    config = plain(cfg)
    spec = {
        "run_id": run_id(config),
        "overrides": overrides,
        "command": command(overrides),
        "axes": {},
        "config": config,
    }
    try:
        m = run_single(spec, cfg.out_dir)
    except (ConfigError, DataError) as err:
        sys.exit(f"error: {err}")
    if m["status"] == "failed":
        sys.exit(f"error: the run failed: {m['error']}")
    print(
        f"train_acc {m['train_acc']:.4f}  test_acc {m['test_acc']:.4f}  outcome {m['outcome']}  "
        f"iterations {m['iteration']}  {m['seconds']:.1f} s  -> {cfg.out_dir}"
    )


if __name__ == "__main__":
    main()
