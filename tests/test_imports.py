"""What a new interpreter imports: a loky worker (nnscratch.run.task), a Dask worker (nnscratch.run.dask),
a sweep's process (nnscratch.run.sweep) and an entry point before it parses its arguments pay only for
the packages their path uses. Every sweep and its workers are new interpreters, so each heavy package
imported without need costs every one of them."""

import json
import subprocess
import sys

import pytest

from nnscratch.paths import CONF_DIR
from nnscratch.run import sweep
from nnscratch.run.prepared import data_key, save_prepared

ROOT = CONF_DIR.parent
# The heavy packages a path may import only when it uses them. pandas is used on every path below (a
# run's diagnosis and its history.csv); Hydra only by the entry points and the sweep (commands, schemas).
HEAVY = ("scipy", "matplotlib", "seaborn", "mlflow", "dask", "distributed", "hydra", "omegaconf", "pooch", "tqdm")
NEEDED = {"experiments.train": {"hydra", "omegaconf"}, "nnscratch.run.sweep": {"hydra", "omegaconf", "tqdm"}}
pytestmark = pytest.mark.slow  # new interpreters, ~1 s of CPU each

TINY = {
    "name": "tiny",
    "axes": {"data": {"subset": [1000]}, "train": {"iterations": [10], "eval_every": [5]}, "seed": [0]},
}


def heavy_after(code: str) -> set[str]:
    """The HEAVY packages a fresh interpreter holds after running `code` (in the project's folder)."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.strip().splitlines()[-1])) & set(HEAVY)


# nnscratch.run.task (what a loky worker imports) is the test below, with the task it runs
# nnscratch.run.sweep: what a sweep's process runs (scipy only for adaptive seeds and the report)
@pytest.mark.parametrize("module", ["nnscratch.run.dask", "experiments.train", "nnscratch.run.sweep"])
def test_a_module_a_new_process_starts_with_imports_no_heavy_package_it_does_not_use(module):
    assert heavy_after(f"import {module}") == NEEDED.get(module, set())


def test_a_loky_worker_trains_a_task_without_hydra_pooch_or_tqdm(tmp_path):
    """Imported lazily is not enough: the task a worker runs must not import them either."""
    _, specs = sweep.plan(TINY, [])
    data_dir = save_prepared(specs, tmp_path / "prepared")[data_key(specs[0]["config"])]
    runs = tmp_path / "sweep" / "runs"
    code = (
        "import json\nfrom pathlib import Path\nfrom nnscratch.run.task import run_task\n"
        f"rows = run_task(json.loads({json.dumps(specs)!r}), Path({str(data_dir)!r}), Path({str(runs)!r}))\n"
        "assert [r['status'] for r in rows] == ['finished'], rows"
    )
    assert heavy_after(code) == set()
    assert json.loads((runs / specs[0]["run_id"] / "metrics.json").read_text())["diagnosis"]
