"""Log a finished sweep folder to a tracker afterwards:

    python -m experiments.log sweep_dir=<dir> [logger=mlflow] [logger.tracking_uri=http://127.0.0.1:5000]

Runs already logged are not logged again; a run whose record changed (redone by a resume) replaces its
old entry. The report folder is logged too when the sweep has one.
"""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from nnscratch import results
from nnscratch.config.checks import ConfigError
from nnscratch.loggers import make_logger


@hydra.main(config_path="../conf", config_name="log", version_base="1.3")
def main(cfg: DictConfig) -> None:
    folder = Path(cfg.sweep_dir) if cfg.sweep_dir else None
    if folder is None or not ((folder / "sweep.json").is_file() or results.is_multirun(folder)):
        sys.exit(f"error: sweep_dir={cfg.sweep_dir}: not a folder that a sweep or a multirun wrote; give one")
    try:
        tracker = make_logger(OmegaConf.to_container(cfg.logger, resolve=True))
    except ConfigError as err:
        sys.exit(f"error: {err}")
    if results.is_multirun(folder):
        results.write_results(folder)  # a multirun has no results.csv of its own
    logged = tracker.log_runs(folder)
    if cfg.report and (folder / "report.html").is_file():
        tracker.log_report(folder, folder)
    if tracker.problem:
        sys.exit(f"error: logging stopped: {tracker.problem}")
    print(f"logged {logged} run(s) of {folder} ({len(results.run_dirs(folder)) - logged} were there already)")


if __name__ == "__main__":
    main()
