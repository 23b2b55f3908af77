"""How much of a stacked full-batch iteration the two large products are: the rest is what a FLOP floor
(benchmarks.sweep_floor) does not count.

    python -m benchmarks.iteration_share [--stacks 4x64 8x32 25x10] [--subset 60000] [--iterations 20]

For each stack (models x hidden units, every model the built-in default config at its own seed, uniform
weights so that no unit dies), on the real data (`data.subset` images, unit scaling):

    iteration   seconds per iteration of nnscratch.train.stack.train_stack (no evaluation but the first
                and last: `train.eval_every` past the end), the best of `--rounds` stacks
    products    seconds of Z1 = W1 @ X and dW1 = dZ1 @ X.T at the stack's height, the best of as many calls
    share       products / iteration; the rest is the first layer's elementwise work (bias, ReLU and
                its mask, db1) and each model's layers above the first (softmax, W2's products)

One BLAS thread, float32, as a sweep runs its tasks. The CPU it ran on is printed first.
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from benchmarks.sweep_floor import two_products_seconds
from nnscratch.config.compose import compose_run
from nnscratch.environment import cpu_model
from nnscratch.run.prepared import prepare_for
from nnscratch.train.skip import used_inputs
from nnscratch.train.stack import train_stack


def stack_configs(base: dict, models: int, hidden: int, iterations: int) -> list[dict]:
    """`models` copies of `base` with `hidden` units, seeds 0, 1, ..., evaluated only at the start and the end."""
    configs = []
    for seed in range(models):
        c = copy.deepcopy(base)
        c["seed"], c["model"]["hidden"] = seed, [hidden]
        c["train"] |= {"iterations": iterations, "eval_every": 10 * iterations}
        configs.append(c)
    return configs


def share_of_products(base: dict, data, stack: tuple[int, int], iterations: int, rounds: int) -> dict:
    """One row of the table: a stack's seconds per iteration, its two products' seconds, and their share."""
    models, hidden = stack
    configs = stack_configs(base, models, hidden, iterations)
    per_iteration = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        train_stack(configs, data)
        per_iteration = min(per_iteration, (time.perf_counter() - start) / (iterations + 1))
    inputs = used_inputs(data.X_train)
    X = np.ascontiguousarray(data.X_train if inputs is None else data.X_train[inputs])
    with threadpool_limits(1, user_api="blas"):
        products = min(two_products_seconds(models * hidden, X) for _ in range(max(3, rounds)))
    return {
        "stack": f"{models} x {hidden}",
        "rows": models * hidden,
        "iteration_ms": 1e3 * per_iteration,
        "products_ms": 1e3 * products,
        "share": products / per_iteration,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", nargs="+", default=["4x64", "8x32", "25x10"], help="models x hidden units")
    parser.add_argument("--subset", type=int, default=60_000)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    stacks = [tuple(int(v) for v in s.lower().split("x")) for s in args.stacks]
    base = compose_run([f"data.subset={args.subset}", "weights=uniform", "biases=zeros", "train.blas_threads=1"])[0]
    data = prepare_for(base)
    rows = [share_of_products(base, data, s, args.iterations, args.rounds) for s in stacks]
    print(f"# {cpu_model()}, {args.subset} images, {args.iterations} iterations per stack, 1 BLAS thread\n")
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3g"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
