"""The main job: python -m experiments.sweep [sweep=<grid>] [overrides], e.g. sweep=smoke data=fashion_mnist"""

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from nnscratch.config.checks import ConfigError
from nnscratch.data import DataError
from nnscratch.loggers.process import started
from nnscratch.run import stopping


@hydra.main(config_path="../conf", config_name="sweep", version_base="1.3")
def main(cfg: DictConfig) -> None:
    settings = OmegaConf.to_container(cfg, resolve=True)
    try:
        with started(settings["logger"]) as tracker:  # a process of its own: it opens its store meanwhile
            from nnscratch.run import sweep  # after: a second of imports (pandas, scipy), beside the tracker's

            sweep_dir, counts = sweep.run(
                settings["sweep"],
                settings["parallel"],
                list(HydraConfig.get().overrides.task),
                Path(cfg.out_root),
                cfg.resume,
                adaptive=settings["adaptive"],
                logger=tracker,
            )
            report = None
            if cfg.report:
                from nnscratch.report import write_report

                report = write_report([sweep_dir])
                tracker.log_report(sweep_dir, report.parent)
    except (ConfigError, DataError) as err:
        sys.exit(f"error: {err}")
    except stopping.Interrupted as stop:
        print(stopping.resume_hint(stop, list(HydraConfig.get().overrides.task)), file=sys.stderr)
        sys.exit(stop.exit_code)
    except KeyboardInterrupt:  # before the sweep had a folder
        sys.exit("interrupted before any run started")
    from nnscratch.run.progress import closing_lines

    name, csv = settings["sweep"]["name"], sweep_dir / "results.csv"
    print("\n".join(closing_lines(counts, name, report, csv, settings["logger"])), flush=True)
    if counts["failed"]:
        sys.exit(f"{counts['failed']} run(s) failed: see {sweep_dir}/results.csv, then resume={sweep_dir}")


if __name__ == "__main__":
    main()
