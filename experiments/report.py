"""Write a sweep's report: python -m experiments.report sweep_dir=<dir>  (or sweep_dirs=[a,b] to compare datasets)

<dir> is a folder `python -m experiments.sweep` wrote, or a Hydra multirun of
`python -m experiments.train -m ...` (outputs/multirun/<date>/<time>): its swept keys are the axes.
"""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from nnscratch import results
from nnscratch.config.claims_file import claims_problems
from nnscratch.config.search import conf_dirs
from nnscratch.report import ClaimsChanged, claims_file_of, write_report


@hydra.main(config_path="../conf", config_name="report", version_base="1.3")
def main(cfg: DictConfig) -> None:
    dirs = [Path(d) for d in (cfg.sweep_dirs or ([cfg.sweep_dir] if cfg.sweep_dir else []))]
    for d in dirs:
        if results.is_multirun(d):
            results.write_results(d)  # a multirun has no results.csv of its own
    missing = [str(d) for d in dirs if not (d / "results.csv").is_file()]
    if not dirs or missing:
        sys.exit(
            "error: give sweep_dir=<a folder a sweep or a multirun wrote> or sweep_dirs=[a,b]; "
            f"no results.csv or multirun.yaml in {missing}"
        )
    path = Path(cfg.claims) if cfg.claims else claims_file_of(results.read_sweep(dirs[0]), conf_dirs())
    problems = (
        claims_problems(path)
        if path.is_file()
        else [f"claims file {path}: no such file; give claims=<file>, or --config-dir=<the folder holding it>"]
    )
    if problems:  # one line each, before anything is written
        sys.exit("\n".join(f"error: {p}" for p in problems))
    try:
        print(write_report(dirs, cfg.out_dir, path, bool(cfg.explore)))
    except ClaimsChanged as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
