"""Benchmark: python -m experiments.bench  (PyTorch comparison needs the `bench` extra)"""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from benchmarks.bench import run_benchmark
from nnscratch.data import DataError


@hydra.main(config_path="../conf", config_name="bench", version_base="1.3")
def main(cfg: DictConfig) -> None:
    try:
        print(run_benchmark(OmegaConf.to_container(cfg, resolve=True), Path(__file__).resolve().parent.parent))
    except DataError as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
