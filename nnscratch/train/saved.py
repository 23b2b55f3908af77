"""A stack's state as arrays and plain data, never a pickle: reading one runs no code.

    state = .npz archive (numpy.savez, read back with allow_pickle=False) holding
        "plain"     the JSON text, as uint8 bytes, of everything that is not an array: each model's
                    iteration, counters, history, final metrics, which of its trained arrays are its
                    whole network's own; where the batches are (the RNG's state is plain integers)
        "s.models.0.params.W.0", ...   the arrays, each named by its place in the plain data, which
                    holds {"array": <that name>} there

`encode` writes such a state from plain data holding arrays anywhere; `decode` reads it back, the
arrays loaded by NumPy alone. Anything that is not such an archive raises UnusableState, and so
does a model's state whose arrays are not the shapes and dtypes of the model it is restored into
(`restored_model`): a file made by hand is refused, never run, and never trained on.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile

import numpy as np

from nnscratch.train.model import Model


class UnusableState(ValueError):
    """Saved state that cannot be read or that does not fit the stack it is meant for."""


def encode(plain: dict) -> bytes:
    """`plain` (dicts, lists, numbers, strings, None and ndarrays) as npz bytes: the arrays stored as
    arrays, the rest as JSON naming them."""
    arrays: dict[str, np.ndarray] = {}

    def lift(value, key: str):
        if isinstance(value, np.ndarray):
            arrays[key] = value
            return {"array": key}
        if isinstance(value, dict):
            return {k: lift(v, f"{key}.{k}") for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [lift(v, f"{key}.{i}") for i, v in enumerate(value)]
        return value.item() if isinstance(value, np.generic) else value

    text = json.dumps(lift(plain, "s"))
    buffer = io.BytesIO()
    np.savez(buffer, plain=np.frombuffer(text.encode(), np.uint8), **arrays)
    return buffer.getvalue()


def decode(state: bytes) -> dict:
    """The plain data of `encode`, its arrays back in place; UnusableState if it is not such a state
    (a pickle, an older version's format, a truncated or hand-made file)."""
    try:
        with np.load(io.BytesIO(state), allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
        plain = json.loads(arrays.pop("plain").tobytes().decode())
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as err:
        raise UnusableState(f"is not a saved state of this version ({type(err).__name__}: {err})") from None

    def lower(value):
        if isinstance(value, dict):
            if set(value) == {"array"}:
                if value["array"] not in arrays:
                    raise UnusableState(f"names an array it does not hold ({value['array']!r})")
                return arrays[value["array"]]
            return {k: lower(v) for k, v in value.items()}
        if isinstance(value, list):
            return [lower(v) for v in value]
        return value

    return lower(plain)


# ---------------------------------------------------------------- one model


def model_state(m: Model) -> dict:
    """What of a model the rest of its training depends on (its config is the stack's own). A trained
    array that is its whole network's own (the layers above the first two, and W2 while every unit
    lives) is None: restored_model shares it again."""
    shared = {g: [None if t is p else t for t, p in zip(m.trained[g], m.params[g])] for g in ("W", "b")}
    kept = ("live", "inputs", "test_extra", "history", "final", "unit_passes", "n_passes", "iteration", "admitted")
    return {"params": m.params, "trained": shared, "test_pred": m.test_pred, "optimizer": vars(m.optimizer)} | {
        k: getattr(m, k) for k in kept
    }


def restored_model(fresh: Model, s: dict) -> Model:
    """`fresh` (a new model of the same config and data) carried to the saved state `s`; UnusableState
    when an array of `s` is not the shape and dtype it must be."""
    dt, width = fresh.params["W"][0].dtype, fresh.width
    params = {
        g: [checked(a, p.shape, dt, f"params {g}{i}") for i, (a, p) in enumerate(zip(s["params"][g], ps))]
        for g, ps in fresh.params.items()
    }
    if [len(s["params"][g]) for g in "Wb"] != [len(fresh.params[g]) for g in "Wb"]:
        raise UnusableState("holds another number of layers")
    live = checked(s["live"], (None,), None, "live")
    if len(np.unique(live)) != len(live) or (len(live) and not 0 <= live.min() <= live.max() < width):
        raise UnusableState(f"holds live units that are not {width} distinct units")
    inputs = s["inputs"]
    if (inputs is None) != (fresh.inputs is None) or (inputs is not None and not np.array_equal(inputs, fresh.inputs)):
        raise UnusableState("was saved on other data (another set of inputs used)")
    columns = fresh.trained["W"][0].shape[1]
    trained = {g: [trained_array(a, g, i, params, live, columns) for i, a in enumerate(s["trained"][g])] for g in "Wb"}
    if [len(trained[g]) for g in "Wb"] != [len(params[g]) for g in "Wb"]:
        raise UnusableState("holds another number of layers")
    m = Model(fresh.cfg, params, trained, live, fresh.inputs, optimizer=copy.copy(fresh.optimizer))
    m.test_extra = None if s["test_extra"] is None else checked(s["test_extra"], (None, None), dt, "test_extra")
    m.history, m.final = list(s["history"]), None if s["final"] is None else dict(s["final"])
    m.unit_passes, m.n_passes, m.iteration = (int(s[k]) for k in ("unit_passes", "n_passes", "iteration"))
    m.admitted = bool(s["admitted"])
    if s["test_pred"] is not None:
        m.test_pred = (int(s["test_pred"][0]), checked(s["test_pred"][1], (None,), None, "test_pred"))
    restore_optimizer(m, s["optimizer"])
    return m


def trained_array(a, g: str, i: int, params: dict, live: np.ndarray, columns: int) -> np.ndarray:
    """Layer i's trained W or b (g) of a model whose whole network is `params`, with `live` units of
    its first layer and `columns` inputs used: the live rows of the first layer, W2's live columns,
    and above that, or when None, the whole network's own array."""
    if i > 0 and a is None:
        return params[g][i]
    shape = params[g][i].shape
    if i == 0:
        shape = (len(live), columns if g == "W" else 1)
    elif (g, i) == ("W", 1):
        shape = (shape[0], len(live))
    return checked(a, shape, params[g][i].dtype, f"trained {g}{i}")


def restore_optimizer(m: Model, s: dict) -> None:
    """Set the model's (fresh) optimizer's state: its own attributes only, moments shaped as `trained`."""
    opt = m.optimizer
    for name, value in s.items():
        if name not in vars(opt):
            raise UnusableState(f"holds optimizer state {name!r} that {type(opt).__name__} does not have")
        if isinstance(value, dict):
            if [len(value[g]) for g in "Wb"] != [len(m.trained[g]) for g in "Wb"]:
                raise UnusableState(f"holds optimizer state {name!r} for another number of layers")
            value = {
                g: [checked(a, t.shape, t.dtype, f"optimizer {name}") for a, t in zip(value[g], m.trained[g])]
                for g in "Wb"
            }
        elif not isinstance(value, (int, float)) and value is not None:
            raise UnusableState(f"holds optimizer state {name!r} that is not a number")
        setattr(opt, name, value)


def checked(a, shape: tuple, dtype: np.dtype | None, what: str) -> np.ndarray:
    """`a` if it is an array of `shape` (None: any length) and `dtype` (None: any integer), else UnusableState."""
    ok = isinstance(a, np.ndarray) and a.ndim == len(shape) and all(n is None or n == k for n, k in zip(shape, a.shape))
    ok = ok and (a.dtype.kind in "iu" if dtype is None else a.dtype == dtype)
    if not ok:
        found = f"{a.dtype} {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__
        raise UnusableState(f"holds {what} as {found}, not {dtype or 'integers'} {shape}")
    return a
