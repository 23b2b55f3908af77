"""One training run: python -m experiments.train [hydra overrides], e.g. model.hidden=[64] data.subset=60000

It writes into Hydra's output folder (outputs/train/<date>/<time>/, or per job of a -m multirun
outputs/multirun/<date>/<time>/<job number>/), beside Hydra's own .hydra/ record of the job.
"""

import shutil
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from nnscratch import diagnose
from nnscratch.compose import command, plain, run_id
from nnscratch.config import ConfigError
from nnscratch.data import DataError
from nnscratch.runner import run_single


def drop_if_unused(folder: Path) -> None:
    """Remove a job folder that holds nothing but Hydra's record of the job (bad input: nothing ran),
    and its parents left empty, up to outputs/."""
    if folder.is_dir() and {p.name for p in folder.iterdir()} <= {".hydra"}:
        shutil.rmtree(folder)
        for parent in folder.parents:
            if parent == Path.cwd() or any(parent.iterdir()) or parent.name == "":
                break
            parent.rmdir()


@hydra.main(config_path="../conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    hc = HydraConfig.get()
    overrides = list(hc.overrides.task)
    out_dir = Path(hc.runtime.output_dir)
    config = plain(cfg)
    spec = {
        "run_id": run_id(config),
        "overrides": overrides,
        "command": command(overrides),
        "axes": {},
        "config": config,
    }
    try:
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


if __name__ == "__main__":
    main()
