"""One training run: python -m experiments.train [hydra overrides], e.g. model.hidden=[64] data.subset=60000

It writes into Hydra's output folder (outputs/train/<date>/<time>/, or per job of a -m multirun
outputs/multirun/<date>/<time>/<job number>/), beside Hydra's own .hydra/ record of the job.
"""

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from nnscratch import diagnose
from nnscratch.config.checks import ConfigError
from nnscratch.config.compose import command_line_refusal
from nnscratch.config.grid import job_spec
from nnscratch.data import DataError
from nnscratch.loggers import make_logger
from nnscratch.run import repair_budget
from nnscratch.run.repair_bar import load_bar
from nnscratch.run.task import drop_if_unused, run_single


@hydra.main(config_path="../conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        spec, out_dir = job_spec(cfg, HydraConfig.get())
        budget = repair_budget.Budget.of(OmegaConf.to_container(cfg.repair, resolve=True))
        if cfg.repair.enabled:
            load_bar()  # conf/diagnoses.yaml's healthy bar, checked before the run
        tracker = make_logger(OmegaConf.to_container(cfg.logger, resolve=True))
        m = run_single(spec, out_dir)
    except (ConfigError, DataError) as err:
        drop_if_unused(out_dir)
        sys.exit(f"error: {err}")
    if m["status"] == "failed":
        sys.exit(f"error: the run failed: {m['error']}")
    print(
        f"train_acc {m['train_acc']:.4f}  test_acc {m['test_acc']:.4f}  outcome {m['outcome']}  "
        f"iterations {m['iteration']}  {m['seconds']:.1f} s  -> {out_dir}"
    )
    print("\n".join(diagnose.lines(diagnose.diagnose_folder(out_dir))))
    if cfg.repair.enabled:
        from nnscratch.run import repair  # only here: it imports the sweep's machinery (scipy, pandas: seconds)

        fixed = repair.repair_run(out_dir, budget, on_try=lambda t: print(repair.try_line(t, budget), flush=True))
        print(repair.summary_line(fixed, out_dir / "repairs.json") if fixed else "repair: nothing to repair")
    tracker.log_runs(out_dir.parent, [out_dir.name])  # a multirun's job: its folder's; a single run: the day's


if __name__ == "__main__":
    sys.argv = repair_budget.shortcut(sys.argv)
    if refused := command_line_refusal("train", sys.argv[1:]):
        sys.exit(f"error: {refused}")
    main()
