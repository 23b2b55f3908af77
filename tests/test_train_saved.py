"""nnscratch.train.saved on a tiny model: plain data with arrays through npz bytes and back, anything else
refused (a pickle, a name without its array), and a model's state restored into a fresh model: the same
arrays, its whole network's own arrays shared again, a state of the wrong shapes refused."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

from nnscratch.run_config import DataConfig, ModelConfig, NormalInitConfig, RunConfig
from nnscratch.train.model import new_model
from nnscratch.train.saved import UnusableState, decode, encode, model_state, restored_model, trained_array

CFG = RunConfig(
    DataConfig(name="tiny"), NormalInitConfig("normal"), NormalInitConfig("normal"), ModelConfig(hidden=[5, 3]), seed=1
)


def test_plain_data_with_arrays_anywhere_comes_back_as_it_went():
    plain = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "nested": {"list": [np.array([1, 2], np.int64), None, "text", 2.5], "flag": True},
        "scalar": np.float32(0.25),
    }
    back = decode(encode(plain))
    assert back["a"].dtype == np.float32 and np.array_equal(back["a"], plain["a"])
    assert back["nested"]["list"][0].dtype == np.int64 and np.array_equal(back["nested"]["list"][0], [1, 2])
    assert back["nested"]["list"][1:] == [None, "text", 2.5] and back["nested"]["flag"] is True
    assert back["scalar"] == 0.25 and isinstance(back["scalar"], float)


def test_a_pickle_or_random_bytes_are_refused_never_run():
    with pytest.raises(UnusableState, match="is not a saved state of this version"):
        decode(pickle.dumps({"models": []}))
    with pytest.raises(UnusableState, match="is not a saved state of this version"):
        decode(b"\x00" * 64)


def test_an_object_array_is_refused_as_it_would_need_a_pickle():
    buffer = io.BytesIO()
    np.savez(buffer, plain=np.frombuffer(b"{}", np.uint8), x=np.array([{"code": 1}], dtype=object))
    with pytest.raises(UnusableState, match="is not a saved state"):
        decode(buffer.getvalue())


def test_a_name_without_its_array_is_refused():
    buffer = io.BytesIO()
    np.savez(buffer, plain=np.frombuffer(b'{"W": {"array": "s.W"}}', np.uint8))
    with pytest.raises(UnusableState, match="names an array it does not hold"):
        decode(buffer.getvalue())


def trained_some_way():
    """A model part-way through training: units 1 and 4 dropped, moved parameters, a history."""
    m = new_model(CFG, 8, 4, inputs=np.array([0, 1, 3, 6]))
    m.live = np.array([0, 2, 3])
    m.trained["W"][0] = m.trained["W"][0][m.live] + 1
    m.trained["b"][0] = m.trained["b"][0][m.live] - 1
    m.trained["W"][1] = m.params["W"][1][:, m.live] * 2
    m.params["W"][2] += 0.5
    m.sync()
    m.iteration, m.unit_passes, m.n_passes, m.admitted = 12, 40, 12, True
    m.history = [{"iteration": 0, "loss": 2.3}]
    return m


def test_a_models_state_restored_into_a_fresh_model_is_the_same_model():
    m = trained_some_way()
    fresh = new_model(CFG, 8, 4, inputs=np.array([0, 1, 3, 6]))
    r = restored_model(fresh, decode(encode(model_state(m))))
    for g in "Wb":
        assert all(np.array_equal(a, b) for a, b in zip(r.params[g], m.params[g]))
        assert all(np.array_equal(a, b) for a, b in zip(r.trained[g], m.trained[g]))
    assert r.trained["W"][2] is r.params["W"][2]  # the deeper layers are the network's own again
    assert r.trained["W"][1] is not r.params["W"][1]  # W2 with the live units' columns only
    assert np.array_equal(r.live, m.live) and r.history == m.history
    assert (r.iteration, r.unit_passes, r.n_passes, r.admitted) == (12, 40, 12, True)


def test_a_state_of_another_shape_or_other_inputs_is_refused():
    state = decode(encode(model_state(trained_some_way())))
    fresh = new_model(CFG, 8, 4, inputs=np.array([0, 1, 3, 6]))
    wrong = state | {"params": state["params"] | {"W": [np.zeros((5, 7), np.float32), *state["params"]["W"][1:]]}}
    with pytest.raises(UnusableState, match=r"holds params W0 as float32 \(5, 7\), not float32 \(5, 8\)"):
        restored_model(fresh, wrong)
    with pytest.raises(UnusableState, match="holds live units that are not 5 distinct units"):
        restored_model(fresh, state | {"live": np.array([0, 0, 2])})
    with pytest.raises(UnusableState, match="was saved on other data"):
        restored_model(new_model(CFG, 8, 4), state)


def test_trained_array_shapes_a_layer_by_the_live_units_and_used_inputs():
    params = new_model(CFG, 8, 4).params
    live = np.array([0, 2])
    W1 = np.zeros((2, 3), np.float32)
    assert trained_array(W1, "W", 0, params, live, columns=3) is W1
    assert trained_array(None, "W", 2, params, live, columns=3) is params["W"][2]
    with pytest.raises(UnusableState, match=r"trained W1 as float32 \(3, 5\), not float32 \(3, 2\)"):
        trained_array(np.zeros((3, 5), np.float32), "W", 1, params, live, columns=3)
