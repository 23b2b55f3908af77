"""nnscratch.claims.files on small claims files written to a temporary folder: reading one, which file a
sweep is judged by (a user's folder first), its digest, and its selections moved to another dataset."""

from __future__ import annotations

import hashlib

from nnscratch.claims.files import claims_digest, claims_for, for_dataset, load_claims

CLAIMS = {
    "subsets": {"fashion": {60000: 30000, 5000: 2500}},
    "claims": [
        {
            "id": "c1",
            "title": "t",
            "checks": [
                {"select": {"data.subset": [60000, 1000], "scheme": "zeros"}},
                {"a": {"data.subset": 5000}, "b": {"scheme": "normal"}},
            ],
        }
    ],
}


def test_load_claims_reads_the_yaml(tmp_path):
    path = tmp_path / "claims.yaml"
    path.write_text("confidence: 0.9\nclaims:\n  - id: c1\n    checks: []\n")
    assert load_claims(path) == {"confidence": 0.9, "claims": [{"id": "c1", "checks": []}]}


def test_claims_for_looks_in_the_users_folder_first(tmp_path):
    mine, package = tmp_path / "mine", tmp_path / "conf"
    mine.mkdir()
    package.mkdir()
    (package / "claims.yaml").write_text("claims: []\n")
    (package / "claims_myinit.yaml").write_text("claims: []\n")
    (mine / "claims_myinit.yaml").write_text("claims: []\n")
    assert claims_for({}, [mine, package]) == package / "claims.yaml"
    assert claims_for({"claims": "claims_myinit.yaml"}, [mine, package]) == mine / "claims_myinit.yaml"
    assert claims_for({"claims": "missing.yaml"}, [mine, package]) == package / "missing.yaml"


def test_claims_digest_is_the_sha256_of_the_files_bytes(tmp_path):
    path = tmp_path / "claims.yaml"
    path.write_bytes(b"claims: []\n")
    assert claims_digest(path) == hashlib.sha256(b"claims: []\n").hexdigest()
    before = claims_digest(path)
    path.write_bytes(b"claims: [] \n")
    assert claims_digest(path) != before


def test_for_dataset_swaps_the_logs_subsets_in_every_selection():
    checks = for_dataset(CLAIMS, "fashion")["claims"][0]["checks"]
    assert checks[0]["select"] == {"data.subset": [30000, 1000], "scheme": "zeros"}  # 1000 is not mapped
    assert checks[1]["a"] == {"data.subset": 2500}  # a single value stays single
    assert checks[1]["b"] == {"scheme": "normal"}
    assert CLAIMS["claims"][0]["checks"][0]["select"]["data.subset"] == [60000, 1000]  # the original kept


def test_for_dataset_without_a_mapping_returns_the_claims_unchanged():
    assert for_dataset(CLAIMS, "mnist") is CLAIMS
    assert for_dataset({"claims": []}, "fashion") == {"claims": []}
