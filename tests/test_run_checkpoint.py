"""nnscratch.run.checkpoint: a task's state saved and read back, and every unusable file dropped."""

import hashlib
import json
import logging

from nnscratch.run import checkpoint

SPECS = [{"run_id": "a"}, {"run_id": "b"}]


def test_a_saved_state_reads_back_byte_for_byte(tmp_path):
    checkpoint.save_state(tmp_path, SPECS, b"\x00state\nwith newlines\n")
    assert checkpoint.load_state(tmp_path, SPECS) == b"\x00state\nwith newlines\n"
    assert checkpoint.state_of(checkpoint.path_of(tmp_path, SPECS)) == b"\x00state\nwith newlines\n"


def test_a_task_is_named_by_its_runs_in_order(tmp_path):
    assert checkpoint.task_name(SPECS) == checkpoint.task_name([{"run_id": "a"}, {"run_id": "b"}])
    assert checkpoint.task_name(SPECS) != checkpoint.task_name(SPECS[::-1])
    assert checkpoint.path_of(tmp_path, SPECS) == tmp_path / f"{checkpoint.task_name(SPECS)}.ckpt"


def test_no_checkpoint_is_none(tmp_path):
    assert checkpoint.load_state(tmp_path, SPECS) is None


def test_a_truncated_checkpoint_is_said_and_removed(tmp_path, caplog):
    checkpoint.save_state(tmp_path, SPECS, b"state" * 100)
    path = checkpoint.path_of(tmp_path, SPECS)
    path.write_bytes(path.read_bytes()[:-10])
    with caplog.at_level(logging.WARNING):
        assert checkpoint.load_state(tmp_path, SPECS) is None
    assert not path.exists()
    assert caplog.messages == [checkpoint.refused(path, "is truncated or corrupt (its SHA-256 does not match)")]


def test_another_versions_checkpoint_is_dropped(tmp_path, caplog):
    payload = json.dumps(checkpoint.fingerprint() | {"numpy": "0.0"}).encode() + b"\nstate"
    path = checkpoint.path_of(tmp_path, SPECS)
    path.write_bytes(hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    with caplog.at_level(logging.WARNING):
        assert checkpoint.load_state(tmp_path, SPECS) is None
    assert not path.exists()
    assert "another version of the code or BLAS" in caplog.text


def test_a_file_without_a_fingerprint_line_is_never_read(tmp_path, caplog):
    payload = b"\x80\x04 a pickle\nstate"
    path = checkpoint.path_of(tmp_path, SPECS)
    path.write_bytes(hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    with caplog.at_level(logging.WARNING):
        assert checkpoint.load_state(tmp_path, SPECS) is None
    assert "no fingerprint line" in caplog.text and not path.exists()


def test_remove_forgets_the_checkpoint(tmp_path):
    checkpoint.save_state(tmp_path, SPECS, b"state")
    checkpoint.remove(tmp_path, SPECS)
    checkpoint.remove(tmp_path, SPECS)  # a second time: nothing to remove, no error
    assert checkpoint.load_state(tmp_path, SPECS) is None
