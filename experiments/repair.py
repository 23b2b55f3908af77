"""Fixes tried on a sweep's failed runs: python -m experiments.repair sweep_dir=<folder> [repair.max_tries=2]"""

import logging
import sys
from pathlib import Path

import hydra
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from nnscratch import results
from nnscratch.config.checks import ConfigError
from nnscratch.data import DataError
from nnscratch.report.repairs import rates_text
from nnscratch.run import repair, stopping
from nnscratch.run.repair_budget import Budget

log = logging.getLogger("experiments.repair")


@hydra.main(config_path="../conf", config_name="repair", version_base="1.3")
def main(cfg: DictConfig) -> None:
    settings = OmegaConf.to_container(cfg, resolve=True)
    sweep_dir = Path(cfg.sweep_dir)
    try:
        if not (sweep_dir / "sweep.json").is_file() or not results.run_dirs(sweep_dir):
            raise ConfigError(f"sweep_dir={sweep_dir}: no sweep with runs there; give a folder a sweep wrote")
        table = repair.repair_sweep(sweep_dir, settings["parallel"], Budget.of(settings["repair"]))
    except (ConfigError, DataError) as err:
        sys.exit(f"error: {err}")
    except KeyboardInterrupt:
        stopping.end_workers()
        sys.exit(f"interrupted: the tries recorded so far are in {sweep_dir}/repairs/ (run again to go on)")
    print(rates_text(pd.read_csv(table)) + f"\n-> {table}")
    if cfg.report:
        from nnscratch.report import write_report

        log.info("report: %s", write_report([sweep_dir]))


if __name__ == "__main__":
    main()
