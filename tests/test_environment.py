"""environment.py: what a sweep ran on, recorded so that a number can be traced to its machine."""

import json
import subprocess

from threadpoolctl import threadpool_limits

from nnscratch.environment import environment, git_commit, package_versions
from nnscratch.paths import CONF_DIR

ROOT = CONF_DIR.parent


def test_the_record_names_the_packages_the_cpu_and_blas_with_its_threads():
    with threadpool_limits(limits=1, user_api="blas"):
        env = environment(ROOT)
    assert env["packages"]["numpy"] and env["packages"]["hydra-core"]
    assert env["cores"] >= 1 and env["cpu"]
    assert env["blas"] and all(b["num_threads"] == 1 for b in env["blas"] if b["internal_api"] != "openmp")
    json.dumps(env)  # environment.json is JSON


def test_a_package_not_installed_is_recorded_as_none(monkeypatch):
    from nnscratch import environment as module

    monkeypatch.setattr(module, "PACKAGES", ("numpy", "no-such-package-xyz"))
    versions = package_versions()
    assert versions["no-such-package-xyz"] is None and versions["numpy"]


def test_the_commit_is_marked_dirty_when_tracked_files_changed(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    assert git_commit(tmp_path) is None  # not a repository
    git("init", "-q")
    (tmp_path / "f.txt").write_text("a")
    git("add", "f.txt")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x")
    clean = git_commit(tmp_path)
    assert len(clean) == 40 and not clean.endswith("+dirty")
    (tmp_path / "f.txt").write_text("b")
    assert git_commit(tmp_path) == clean + "+dirty"
