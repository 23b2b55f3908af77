"""The main job: python -m experiments.sweep [sweep=<grid>] [overrides], e.g. sweep=smoke data=fashion_mnist"""

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from nnscratch.config.checks import ConfigError, sweep_settings
from nnscratch.config.compose import command_line_refusal
from nnscratch.config.schema import Parallel, as_object
from nnscratch.config.search import search_path_flags
from nnscratch.data import DataError
from nnscratch.loggers.process import started
from nnscratch.run import stopping
from nnscratch.run.repair_budget import Budget, shortcut


@hydra.main(config_path="../conf", config_name="sweep", version_base="1.3")
def main(cfg: DictConfig) -> None:
    try:
        settings = sweep_settings(OmegaConf.to_container(cfg, resolve=True), HydraConfig.get().runtime.choices)
        budget = Budget.of(settings["repair"])  # checked before any run
        if settings["repair"]["enabled"]:
            from nnscratch.run.repair_bar import load_bar

            load_bar()  # conf/diagnoses.yaml's healthy bar, likewise
        with started(settings["logger"]) as tracker:  # a process of its own: it opens its store meanwhile
            from nnscratch.run import sweep  # after: a second of imports (pandas, scipy), beside the tracker's

            sweep_dir, counts = sweep.run(
                sweep.SweepRequest(
                    settings["sweep"],
                    list(HydraConfig.get().overrides.task),
                    Path(settings["out_root"]),
                    resume=settings["resume"],
                    adaptive=settings["adaptive"],
                ),
                as_object(Parallel, settings["parallel"]),
                logger=tracker,
            )
            if settings["repair"]["enabled"]:  # after the grid: its failed runs' fixes, in the same pool
                from nnscratch.run.repair import repair_sweep

                repair_sweep(sweep_dir, settings["parallel"], budget)
            report = None
            if settings["report"]:
                from nnscratch.report import write_report

                with stopping.stop_when_full(sweep_dir, "the report"):
                    report = write_report([sweep_dir])
                tracker.log_report(sweep_dir, report.parent)
    except (ConfigError, DataError, stopping.DiskFull) as err:
        sys.exit(f"error: {err}")
    except stopping.Interrupted as stop:
        print(stopping.resume_hint(stop, [*search_path_flags(), *HydraConfig.get().overrides.task]), file=sys.stderr)
        sys.exit(stop.exit_code)
    except KeyboardInterrupt:  # before the sweep had a folder
        sys.exit("interrupted before any run started")
    from nnscratch.run.progress import closing_lines

    name, csv = settings["sweep"]["name"], sweep_dir / "results.csv"
    print("\n".join(closing_lines(counts, name, report, csv, settings["logger"])), flush=True)
    if counts["failed"]:
        sys.exit(f"{counts['failed']} run(s) failed: see {sweep_dir}/results.csv, then resume={sweep_dir}")


if __name__ == "__main__":
    sys.argv = shortcut(sys.argv)
    if refused := command_line_refusal("sweep", sys.argv[1:]):
        sys.exit(f"error: {refused}")
    main()
