"""A real tiny sweep of 20 seeds per cell (more than the design's last look) ends with its report, and the
report judges it only by the claims file the sweep recorded before its runs (unless asked to explore)."""

import pytest
import yaml

from nnscratch import results
from nnscratch.claims import claims_digest
from nnscratch.report import ClaimsChanged, claims_checked, write_report
from nnscratch.run import sweep

LOKY = {"backend": "loky", "n_jobs": 2, "scheduler": None, "stack_rows": 256}
SEEDS = list(range(20))


def claims_file(path, value: float):
    check = {"what": "test accuracy reaches the value", "kind": "threshold", "select": {}, "measure": "test_acc"}
    claim = {"id": "tiny", "title": "A tiny claim", "checks": [check | {"value": value}]}
    path.write_text(yaml.safe_dump({"confidence": 0.95, "claims": [claim]}))
    return path


@pytest.fixture(scope="module")
def twenty(tmp_path_factory):
    """20 seeds of two cells (hidden 8, 500 images, 20 iterations), with adaptive seeds on (they add none:
    every cell has more than the last look), judged by its own claims file."""
    root = tmp_path_factory.mktemp("twenty")
    path = claims_file(root / "claims.yaml", 0.05)
    grid = {
        "name": "twenty",
        "axes": {
            "model": {"hidden": [[8]]},
            "data": {"subset": [500]},
            "weights": ["uniform", "he"],  # two cells: the report's heatmaps need an axis besides the seed
            "train": {"iterations": [20], "eval_every": [10]},
            "seed": SEEDS,
        },
    }
    adaptive = {"enabled": True, "max_seeds": 10, "claims": str(path)}  # nothing to add: every cell has 20
    sweep_dir, counts = sweep.run(sweep.SweepRequest(grid, [], root / "out", adaptive=adaptive), LOKY, progress=False)
    return sweep_dir, path, counts


def test_a_20_seed_grid_ends_with_its_report_judged_on_its_first_10_seeds(twenty):
    sweep_dir, path, counts = twenty
    assert counts["finished"] == 40
    record = results.read_sweep(sweep_dir)
    assert record["claims_sha256"] == claims_digest(path) and record["claims_file"] == str(path)
    report = write_report([sweep_dir])  # the claims file the sweep recorded, not conf/claims.yaml
    text = (sweep_dir / "report.md").read_text()
    assert report.is_file() and "SUPPORTED" in text
    assert "judged on its first 10 seeds (the design's last look), the 10 seeds past it reported only" in text
    assert "any law of the seeds' margins" in text  # the guarantee column


def test_a_claims_file_changed_after_the_sweep_is_refused_unless_explored(twenty, tmp_path):
    sweep_dir, path, _ = twenty
    moved = claims_file(tmp_path / "claims.yaml", 0.06)  # a threshold moved after seeing the data
    with pytest.raises(ClaimsChanged, match="is not the one sweep .* recorded before its runs.*explore=true"):
        write_report([sweep_dir], tmp_path / "report", moved)
    assert not (tmp_path / "report").exists()  # refused before any work
    write_report([sweep_dir], tmp_path / "report", moved, explore=True)
    text = (tmp_path / "report" / "report.md").read_text()
    assert "SUPPORTED (exploratory)" in text and "**Exploratory**" in text


def test_claims_checked_labels_and_refuses_by_hash(tmp_path):
    path = claims_file(tmp_path / "claims.yaml", 0.5)
    same = claims_checked(path, [(tmp_path, {"claims_sha256": claims_digest(path)})], explore=False)
    assert same["exploratory"] is False
    assert claims_checked(path, [(tmp_path, {})], explore=False)["exploratory"] is False  # an older sweep: no hash
    with pytest.raises(ClaimsChanged):
        claims_checked(path, [(tmp_path, {"claims_sha256": "0" * 64})], explore=False)
    assert claims_checked(path, [(tmp_path, {"claims_sha256": "0" * 64})], explore=True)["exploratory"] is True
