"""Shared fixtures: the real datasets (from NNSCRATCH_DATA_DIR), a small composed run config."""

import contextlib
import copy
import io
import logging
import os
import runpy
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from nnscratch import data, datasets
from nnscratch.config.compose import compose_run

ROOT = Path(__file__).resolve().parent.parent

# The suite runs on the real data; CI points NNSCRATCH_DATA_DIR at ../shared/data. A developer who
# has not set it gets the same folder when it sits beside the checkout.
if not os.environ.get("NNSCRATCH_DATA_DIR") and (ROOT.parent / "shared" / "data").is_dir():
    os.environ["NNSCRATCH_DATA_DIR"] = str(ROOT.parent / "shared" / "data")
# A relative NNSCRATCH_DATA_DIR (the README's command) means relative to where pytest was started;
# the tests' subprocesses run elsewhere, so they get it absolute.
data.pin_paths()


@pytest.fixture(scope="session")
def mnist() -> data.Dataset:
    return datasets.load(datasets.data_config("mnist"), allow_download=False)


@pytest.fixture(scope="session")
def composed_small_config() -> dict:
    """small_config, composed once per session (a Hydra compose costs ~0.3 s of CPU; 26 tests ask for it)."""
    config, _ = compose_run(["data.subset=1000", "train.iterations=100", "train.eval_every=20"])
    return config


@pytest.fixture
def small_config(composed_small_config) -> dict:
    """The log's reference run, shrunk: 1,000 samples, 100 iterations (a copy of its own: a test may change it)."""
    return copy.deepcopy(composed_small_config)


@pytest.fixture
def long_grid() -> dict:
    """A sweep of one run of a few seconds: its task reports progress several times before it ends."""
    return {
        "name": "long",
        "axes": {"model": {"hidden": [[64]]}, "data": {"subset": [20000]}, "train": {"iterations": [80]}, "seed": [0]},
    }


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Downloads in tests go to a temporary cache, never the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def conf_copy(tmp_path) -> Path:
    """A copy of conf/ to add YAML to (a new option, grid or claims file), as a user would."""
    import shutil

    from nnscratch.paths import CONF_DIR

    folder = tmp_path / "conf"
    shutil.copytree(CONF_DIR, folder)
    return folder


def wait_until(predicate, seconds: float, what: str, every: float = 0.1):
    """Poll `predicate` until it returns something true, and return that; fail the test, naming `what`,
    when `seconds` pass first. (Test modules whose helpers wait import it: `from conftest import wait_until`.)"""
    import time

    deadline = time.monotonic() + seconds
    while not (found := predicate()):
        if time.monotonic() > deadline:
            pytest.fail(f"waited {seconds:g} s for {what}; it never came")
        time.sleep(every)
    return found


@pytest.fixture
def wait_for():
    """wait_for(predicate, seconds, what): poll with a deadline that fails the test when it passes."""
    return wait_until


def run_in_process(module: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m <module> <args>` run in this process, as the interpreter would run it: its stdout and
    stderr, and the exit status `sys.exit` gives (a message is printed to stderr and means 1; an uncaught
    exception prints its traceback and means 1). The entry points' refusals are tested this way, without
    the ~3 s of imports (CPU) a new interpreter spends; each kind of refusal also runs once as a real
    process, to see that nothing imported writes to its stderr. Not for what a new process changes:
    signals, pin_paths (run once, at import), the joblib launcher's workers."""
    out, err = io.StringIO(), io.StringIO()
    argv, here, handlers, level = sys.argv, os.getcwd(), logging.root.handlers[:], logging.root.level
    code = 0
    try:
        sys.argv = [module, *args]
        os.chdir(cwd or ROOT)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                runpy.run_module(module, run_name="__main__", alter_sys=True)
            except SystemExit as done:
                if isinstance(done.code, str):
                    print(done.code, file=sys.stderr)
                code = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
            except Exception:
                traceback.print_exc()
                code = 1
    finally:
        sys.argv = argv
        os.chdir(here)
        for handler in set(logging.root.handlers) - set(handlers):  # Hydra's job logging, set up by a run
            handler.close()
        logging.root.handlers[:], logging.root.level = handlers, level
    return subprocess.CompletedProcess([module, *args], code, out.getvalue(), err.getvalue())


@pytest.fixture
def in_process():
    """in_process(module, *args, cwd=...): `python -m module args` run in this process (run_in_process)."""
    return run_in_process
