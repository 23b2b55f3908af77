"""A task's checkpoint: its stack's whole state (nnscratch.train.stack.Stack.state), saved so that an
interrupted task continues where it was, bit for bit.

    <sweep dir>/checkpoints/<task>.ckpt     SHA-256 of the rest (64 hex digits), a newline, then the
                                            pickled {"fingerprint", "state"}

written atomically (temporary name, then rename). `<task>` names the task's runs, so a resumed
sweep, which plans the same tasks, finds it. A checkpoint whose checksum does not match (truncated,
corrupt) or that another version of the training code, NumPy or BLAS wrote (other last bits) is
said and dropped: the task restarts from its start. It is removed when its task ends.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from functools import cache
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

import nnscratch

log = logging.getLogger(__name__)
CODE = ("network.py", "optimizers.py", "diagnostics.py", "train")  # what computes the numbers


def task_name(specs: list[dict]) -> str:
    """A task's name: its runs, in order."""
    return hashlib.sha256(" ".join(s["run_id"] for s in specs).encode()).hexdigest()[:16]


@cache
def fingerprint() -> dict:
    """What a task's numbers depend on besides its configs: the training code, NumPy and its BLAS."""
    root, digest = Path(nnscratch.__file__).parent, hashlib.sha256()
    for part in CODE:
        for path in sorted((root / part).rglob("*.py")) if (root / part).is_dir() else [root / part]:
            digest.update(path.read_bytes())
    blas = sorted(
        f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    )
    return {"code": digest.hexdigest()[:16], "numpy": np.__version__, "blas": blas}


def path_of(folder: Path, specs: list[dict]) -> Path:
    return Path(folder) / f"{task_name(specs)}.ckpt"


def save(folder: Path, specs: list[dict], state: bytes) -> None:
    """Write a task's checkpoint atomically."""
    payload = pickle.dumps({"fingerprint": fingerprint(), "state": state}, protocol=pickle.HIGHEST_PROTOCOL)
    path = path_of(folder, specs)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    os.replace(tmp, path)


def load(folder: Path, specs: list[dict]) -> bytes | None:
    """A task's saved state, or None: no checkpoint, or one that cannot be used (said, and removed)."""
    path = path_of(folder, specs)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    digest, _, payload = raw.partition(b"\n")
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        return drop(path, "is truncated or corrupt (its SHA-256 does not match)")
    saved = pickle.loads(payload)
    if saved["fingerprint"] != fingerprint():
        return drop(path, f"was written by another version of the code or BLAS ({saved['fingerprint']})")
    return saved["state"]


def drop(path: Path, why: str) -> None:
    log.warning("checkpoint %s %s: its task restarts from the start", path, why)
    path.unlink(missing_ok=True)
    return None


def remove(folder: Path, specs: list[dict]) -> None:
    path_of(folder, specs).unlink(missing_ok=True)
