"""What a result was computed on: packages, git commit, CPU, BLAS and its threads."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

import joblib
from threadpoolctl import threadpool_info

PACKAGES = (
    "numpy",
    "pandas",
    "hydra-core",
    "omegaconf",
    "joblib",
    "threadpoolctl",
    "seaborn",
    "matplotlib",
    "pooch",
    "tqdm",
    "distributed",
)


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(folder: Path) -> str | None:
    """HEAD of the repository holding `folder`, with '+dirty' if it has uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(repo: Path) -> dict:
    """A record of the machine and software, for environment.json."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": joblib.cpu_count(),
        "packages": package_versions(),
        "git_commit": git_commit(repo),
        "blas": [
            {k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "filepath")}
            for i in threadpool_info()
        ],
        "env": {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP_", "MKL_", "NNSCRATCH"))},
    }
