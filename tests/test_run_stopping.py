"""nnscratch.run.stopping's pure parts: what a full disk is, what a stopped sweep says, whose lock it is."""

import errno
import os
import signal
import socket

import pytest

from nnscratch.config.checks import ConfigError
from nnscratch.run import stopping


@pytest.mark.parametrize(
    "err, full",
    [
        (OSError(errno.ENOSPC, "No space left on device"), True),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
        (OSError(errno.EACCES, "Permission denied"), False),
        (RuntimeError("No space left on device"), False),
    ],
)
def test_is_disk_full_by_errno_only(err, full):
    assert stopping.is_disk_full(err) is full


def test_resume_hint_names_the_signal_the_folder_and_the_command(tmp_path):
    stop = stopping.Interrupted(signal.SIGTERM, tmp_path / "toy" / "t0")
    hint = stopping.resume_hint(stop, ["sweep=toy", "resume=old/folder", "data.name=my data"])
    assert hint == (
        f"interrupted by SIGTERM: every run that had stopped is recorded in {tmp_path}/toy/t0/results.csv; "
        f"resume with:\n  python -m experiments.sweep sweep=toy 'data.name=my data' resume={tmp_path}/toy/t0"
    )


def test_an_interrupt_exits_as_a_shell_reports_its_signal(tmp_path):
    assert stopping.Interrupted(signal.SIGTERM).exit_code == 128 + signal.SIGTERM
    plain = stopping.interrupted(KeyboardInterrupt(), tmp_path)  # Ctrl-C
    assert (plain.name, plain.exit_code, plain.sweep_dir) == ("SIGINT", 128 + signal.SIGINT, tmp_path)
    hup = stopping.interrupted(stopping.Interrupted(signal.SIGHUP), tmp_path)
    assert hup.name == "SIGHUP"


def test_a_full_disk_in_the_block_becomes_disk_full(tmp_path):
    with pytest.raises(stopping.DiskFull) as err:
        with stopping.stop_when_full(tmp_path, "the report"):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert "the report" in str(err.value)
    with pytest.raises(PermissionError):
        with stopping.stop_when_full(tmp_path, "the report"):
            raise PermissionError(errno.EACCES, "Permission denied")


def test_a_lock_names_a_live_holder_only(tmp_path):
    assert stopping.holder_alive(stopping.holder_text())
    assert stopping.holder_alive("another-host.example:1:2.00")  # cannot be seen from here: assumed alive
    assert not stopping.holder_alive(f"{socket.gethostname()}:{os.getpid()}:1.00")  # a reused pid
    assert not stopping.holder_alive(f"{socket.gethostname()}:not-a-pid:1.00")


def test_a_held_sweep_is_refused_and_a_stale_lock_taken(tmp_path):
    with stopping.sweep_lock(tmp_path) as path:
        assert path.read_text() == stopping.holder_text() + "\n"
        with pytest.raises(ConfigError, match="is still writing this sweep"):
            with stopping.sweep_lock(tmp_path):
                pass
    assert not path.exists()
    path.write_text(f"{socket.gethostname()}:{os.getpid()}:1.00\n")  # its holder is gone
    with stopping.sweep_lock(tmp_path):
        assert path.read_text() == stopping.holder_text() + "\n"
