"""nnscratch.run.dask's pieces that need no cluster: the TLS block's checks and Dask's Security made
from it, and the specs a worker runs when no user network is in them (the cluster itself: test_cluster.py)."""

from pathlib import Path

import pytest

from nnscratch.run.dask import TLS_KEYS, on_this_worker, security, tls_problems


@pytest.fixture
def pem_files(tmp_path: Path) -> dict[str, str]:
    files = {k: tmp_path / f"{k}.pem" for k in TLS_KEYS}
    for path in files.values():
        path.write_text("not checked here: Dask reads it when it connects\n")
    return {k: str(p) for k, p in files.items()}


def test_no_tls_block_is_plain_tcp_with_no_problem():
    assert tls_problems(None) == []
    assert security(None) is None


def test_a_tls_block_of_three_files_has_no_problem_and_gives_a_security_requiring_encryption(pem_files):
    assert tls_problems(pem_files) == []
    sec = security(pem_files)
    assert sec.require_encryption is True
    assert sec.tls_ca_file == pem_files["ca_file"]
    for role in ("client", "scheduler", "worker"):  # one certificate serves every role
        assert getattr(sec, f"tls_{role}_cert") == pem_files["cert_file"]
        assert getattr(sec, f"tls_{role}_key") == pem_files["key_file"]


@pytest.mark.parametrize("block", [{"ca_file": "a.pem"}, "ca.pem", {"ca_file": 1, "cert_file": 2, "key": 3}])
def test_a_tls_block_of_other_keys_is_one_line_naming_the_keys_it_needs(block):
    (line,) = tls_problems(block)
    assert line.startswith("parallel.tls: must be null or {ca_file, cert_file, key_file}")


def test_each_missing_file_of_the_tls_block_is_its_own_line(pem_files, tmp_path):
    gone = str(tmp_path / "gone.pem")
    fix = "make the certificates as docs/distributed.md shows"
    assert tls_problems(pem_files | {"key_file": gone, "ca_file": 7}) == [
        f"parallel.tls.ca_file: no file 7: {fix}",
        f"parallel.tls.key_file: no file {gone!r}: {fix}",
    ]


def test_specs_of_the_builtin_network_reach_a_worker_unchanged(small_config):
    specs = [{"run_id": "a", "config": small_config}]
    assert on_this_worker(specs) is specs
