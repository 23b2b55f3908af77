"""Claims files: reading one, the one a sweep is judged by, its digest, and its selections on another dataset."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import yaml

from nnscratch.claims.selection import as_list
from nnscratch.paths import CONF_DIR, conf_file

DEFAULT_CLAIMS = CONF_DIR / "claims.yaml"


def load_claims(path: Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def claims_for(record: dict, folders: Sequence[Path] = (CONF_DIR,)) -> Path:
    """The claims file a sweep is judged by: its grid's `claims:`, else claims.yaml, in the first of the conf
    `folders` that holds it (a user's --config-dir before the package's conf/)."""
    return conf_file(record.get("claims") or DEFAULT_CLAIMS.name, folders)


def claims_digest(path: Path) -> str:
    """SHA-256 of a claims file's bytes: a sweep's adaptive rounds are bound to the file they used."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def for_dataset(claims: dict, dataset: str) -> dict:
    """The claims with the log's subsets in their selections (data.subset: 60000, 5000) replaced by their
    equivalents on `dataset`, as the file's `subsets:` declares ({dataset: {log's subset: its own}}), so
    that one file judges every grid; unchanged when it declares none for the dataset."""
    mapping = (claims.get("subsets") or {}).get(dataset)
    if not mapping:
        return claims

    def swap(where: dict) -> dict:
        if "data.subset" not in where:
            return where
        values = [mapping.get(v, v) for v in as_list(where["data.subset"])]
        return where | {"data.subset": values if isinstance(where["data.subset"], list) else values[0]}

    def check(c: dict) -> dict:
        return c | {k: swap(c[k]) for k in ("select", "a", "b") if k in c}

    return claims | {"claims": [c | {"checks": [check(x) for x in c["checks"]]} for c in claims["claims"]]}
