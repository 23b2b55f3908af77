"""A task's checkpoint: its stack's whole state (nnscratch.train.stack.Stack.state), saved so that an
interrupted task continues where it was, bit for bit.

    <sweep dir>/checkpoints/<task>.ckpt     SHA-256 of the rest (64 hex digits), a newline, the
                                            fingerprint as one line of JSON, a newline, then the
                                            state: an .npz of arrays and JSON (nnscratch.train.saved)

written atomically (temporary name, fsync, then rename). `<task>` names the task's runs, so a
resumed sweep, which plans the same tasks, finds it. Nothing in it is a pickle: a checkpoint from a
folder someone sent runs no code. A checkpoint whose checksum does not match (truncated, corrupt),
that another version of the training code, NumPy or BLAS wrote (other last bits), or that is not
in this format (an older version's pickle, a file made by hand) is said in one line and dropped:
the task restarts from its start (a state that reads but does not fit its task is refused the same
way: nnscratch.run.task.execute). It is removed when its task ends. The SHA-256 guards against
corruption, not tampering: what guards against a crafted file is that reading one runs nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from functools import cache
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

import nnscratch
from nnscratch import results

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


def save_state(folder: Path, specs: list[dict], state: bytes) -> None:
    """Write a task's checkpoint atomically."""
    payload = json.dumps(fingerprint()).encode() + b"\n" + state
    results.atomic_write_bytes(path_of(folder, specs), hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)


def load_state(folder: Path, specs: list[dict]) -> bytes | None:
    """A task's saved state, or None: no checkpoint, or one that cannot be used (said, and removed)."""
    path = path_of(folder, specs)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    digest, _, payload = raw.partition(b"\n")
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        return drop(path, "is truncated or corrupt (its SHA-256 does not match)")
    line, _, state = payload.partition(b"\n")
    try:
        written_by = json.loads(line)
    except ValueError:
        return drop(path, "is not a checkpoint of this version (no fingerprint line; pickles are never read)")
    if written_by != fingerprint():
        return drop(path, f"was written by another version of the code or BLAS ({written_by})")
    return state


def state_of(path: Path) -> bytes:
    """The state a checkpoint file holds, unchecked (for probes that look inside)."""
    return Path(path).read_bytes().partition(b"\n")[2].partition(b"\n")[2]


def drop(path: Path, why: str) -> None:
    log.warning(refused(path, why))
    path.unlink(missing_ok=True)
    return None


def remove(folder: Path, specs: list[dict]) -> None:
    path_of(folder, specs).unlink(missing_ok=True)


def refused(path: Path, why: str) -> str:
    """The one line that says a checkpoint is not used."""
    return f"checkpoint {path} {why}: its task restarts from the start"
