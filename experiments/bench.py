"""Benchmark: python -m experiments.bench  (PyTorch comparison needs the `bench` extra)"""

import sys
import time
from pathlib import Path

import hydra
import joblib
from omegaconf import DictConfig, OmegaConf

from nnscratch import bench, datasets
from nnscratch.data import DataError, prepare
from nnscratch.environment import environment


@hydra.main(config_path="../conf", config_name="bench", version_base="1.3")
def main(cfg: DictConfig) -> None:
    out = Path(cfg.out_root) / time.strftime("%Y-%m-%d_%H-%M-%S")
    cores = joblib.cpu_count()
    try:
        ds = datasets.load(OmegaConf.to_container(cfg.data, resolve=True))
    except DataError as err:
        sys.exit(f"error: {err}")
    data = {n: prepare(ds, n, "unit") for n in cfg.samples}
    peak = {t: bench.peak_sgemm(t) for t in sorted({1, cores})}
    steps = [row for t in sorted({1, cores}) for row in bench.step_benchmark(data, list(cfg.hiddens), t, cfg.repeat)]
    minibatch = bench.minibatch_benchmark(prepare(ds, None, "unit"))
    products = bench.product_speed(list(cfg.product_rows), ds.n_inputs)
    grid, info = bench.grid_benchmark(
        OmegaConf.to_container(cfg.sweep), cfg.grid_iterations, out, cores, cfg.stack_rows, cfg.stack_tasks
    )
    print(
        bench.write_outputs(
            out,
            {
                "steps": steps,
                "grid": grid,
                "minibatch": [minibatch],
                "peak_sgemm": [{"threads": t, "gflops": f / 1e9} for t, f in peak.items()],
                "products": products,
                "eta": info["eta"],
            },
            bench.summary(
                steps,
                grid,
                info,
                peak[cores],
                environment(Path(__file__).resolve().parent.parent),
                minibatch,
                products,
            ),
        )
    )


if __name__ == "__main__":
    main()
