"""nnscratch.networks.loading: a run config's network checked, a user's file refused in one line when it
cannot be used (missing, a function missing with the nearest name, an import that fails, hangs, reads data
or connects), its functions found by the config's names, imported once, and each call bounded in time with
its errors named by the user's own frame. Small files of tmp_path; short timeouts."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

from nnscratch.networks import loading
from nnscratch.networks.loading import (
    NetworkFileError,
    UserCodeError,
    load_notebook,
    missing_functions,
    network_problems,
    own_network,
    source_path,
    time_limit,
)

FUNCTIONS = """\
def init_params():
    return "params"

def forward_prop(*args):
    print("forward!")
    return args

def backward_prop(*args):
    return helper(args)

def helper(args):
    return 1 / len(args)

def update_params(*args):
    return args
"""


def user_file(folder: Path, extra: str = "", name: str = "my_net.py", base: str = FUNCTIONS) -> Path:
    path = folder / name
    path.write_text(base + extra)
    return path


def network(path: Path, **settings) -> dict:
    """A network block as conf/network/notebook.yaml gives it, timeouts short."""
    return {"name": "notebook", "source": str(path), "functions": {}, "import_timeout": 5, "call_timeout": 2} | settings


def run_config(tmp_path, **parts) -> dict:
    base = {
        "network": network(user_file(tmp_path)),
        "model": {"hidden": [10]},
        "optimizer": {"name": "gd"},
        "train": {"batch_size": None},
        "weights": {"scheme": "uniform"},
    }
    return base | parts


def test_a_run_trains_a_network_of_ones_own_only_when_the_config_names_one():
    assert not own_network({}) and not own_network({"network": None})
    assert not own_network({"network": {"name": "builtin"}}) and own_network({"network": {"name": "notebook"}})


def test_a_notebook_run_that_asks_for_nothing_it_cannot_do_has_no_problem(tmp_path):
    assert network_problems(run_config(tmp_path)) == []
    assert network_problems({"model": {"hidden": [64, 32]}}) == []  # the built-in network: any depth


def test_each_thing_a_notebook_network_cannot_do_is_one_line_naming_its_key(tmp_path):
    config = run_config(
        tmp_path,
        network={"name": "notebook"},
        model={"hidden": [64, 32]},
        optimizer={"name": "adam"},
        train={"batch_size": 128},
    )
    assert [line.split(":")[0] for line in network_problems(config)] == [
        "network.source",
        "model.hidden",
        "optimizer",
        "train.batch_size",
    ]
    assert network_problems(run_config(tmp_path, network={"name": "notebook", "source": "nope.py"})) == [
        f"network.source: no file nope.py (from {Path.cwd()})"
    ]


def test_an_unknown_network_or_user_weights_without_one_are_refused():
    assert network_problems({"network": {"name": "torch"}}) == [
        "network.name: unknown 'torch' (allowed: builtin, notebook)"
    ]
    assert network_problems({"weights": {"scheme": "user"}}) == [
        "weights=user: the built-in network has no init_params of yours (network=notebook has)"
    ]


def test_the_source_is_the_files_absolute_path_or_a_one_line_refusal(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    user_file(tmp_path)
    assert source_path({"source": "my_net.py"}) == tmp_path.resolve() / "my_net.py"
    with pytest.raises(NetworkFileError, match=r"^network\.source: missing; give your file"):
        source_path({"source": None})
    with pytest.raises(NetworkFileError, match=r"^network\.source: no file other\.py \(from .*\); give the path"):
        source_path({"source": "other.py"})


def test_a_missing_function_is_named_with_the_nearest_name_the_file_defines():
    names = {"init": "init_params", "forward": "forward_prop", "backward": "backProp", "update": "update_params"}
    defined = ["init_params", "forwardProp", "update_params", "gradient_descent"]
    assert missing_functions(names | {"train": "gd"}, defined, Path("/x/my_net.py")) == [
        "my_net.py: no function forward_prop (network.functions.forward)"
        " (did you mean forwardProp? then network.functions.forward=forwardProp)",
        "my_net.py: no function backProp (network.functions.backward)",  # nothing near: no guess
    ]  # train (gradient_descent) is optional


# ---------------------------------------------------------------- the import, probed in a child


def refusal(path: Path, **settings) -> str:
    with pytest.raises(NetworkFileError) as refused:
        load_notebook(network(path, **settings))
    return str(refused.value)


def test_a_file_missing_a_function_is_refused_before_it_is_imported_here(tmp_path):
    path = user_file(tmp_path, base=FUNCTIONS.replace("def forward_prop(", "def forwardprop("))
    assert refusal(path) == (
        "my_net.py: no function forward_prop (network.functions.forward)"
        " (did you mean forwardprop? then network.functions.forward=forwardprop)"
    )
    assert str(path.resolve()) not in {where for where, _ in loading._loaded}  # its code never ran in this process


def test_a_file_whose_import_fails_is_refused_with_the_errors_last_line(tmp_path):
    assert (
        refusal(user_file(tmp_path, "\nx = 1 / 0\n"))
        == "my_net.py: importing it failed: ZeroDivisionError: division by zero"
    )


def test_a_file_whose_import_does_not_finish_is_refused_at_the_timeout(tmp_path):
    message = refusal(user_file(tmp_path, "\nimport time\ntime.sleep(30)\n"), import_timeout=0.5)
    assert message.startswith("my_net.py: importing it did not finish in 0.5 s (network.import_timeout)")


def test_a_file_that_reads_data_when_imported_is_refused_naming_what_it_read(tmp_path):
    for i in range(4):
        (tmp_path / f"train{i}.csv").write_text("label,pixel0\n")
    reads = "\nfor i in range(4):\n    open(__file__.replace('my_net.py', f'train{i}.csv')).read()\n"
    message = refusal(user_file(tmp_path, reads))
    shown = ", ".join(str(tmp_path / f"train{i}.csv") for i in range(3))
    assert message.startswith(f"my_net.py: importing it reads {shown} ...: the harness gives your functions their")


def test_a_file_that_connects_when_imported_is_refused(tmp_path):
    connects = "\nimport socket\ntry:\n    socket.create_connection(('127.0.0.1', 9), 0.2)\nexcept OSError:\n    pass\n"
    assert "my_net.py: importing it reads a connection to ('127.0.0.1', 9)" in refusal(user_file(tmp_path, connects))


def test_a_file_that_prints_and_writes_when_imported_is_loaded(tmp_path):
    writes = "\nprint('hello')\nopen(__file__.replace('.py', '.log'), 'w').write('x')\n"
    notebook = load_notebook(network(user_file(tmp_path, writes)))
    assert notebook.call("init") == "params"


# ---------------------------------------------------------------- loaded once, called bounded


def test_a_file_is_imported_once_per_content_and_its_functions_found_by_the_configs_names(tmp_path):
    path = user_file(tmp_path, "\ndef my_init():\n    return 'mine'\n")
    first = load_notebook(network(path, functions={"init": "my_init"}), probe=False)
    again = load_notebook(network(path), probe=False)
    assert again.module is first.module and first.call("init") == "mine" and again.call("init") == "params"
    assert (first.names["init"], first.names["train"], first.timeout) == ("my_init", "gradient_descent", 2.0)
    assert first.has("forward") and not first.has("train")  # no gradient_descent of its own
    path.write_text(FUNCTIONS.replace('"params"', '"edited"'))
    edited = load_notebook(network(path), probe=False)
    assert edited.module is not first.module and edited.call("init") == "edited" and edited.sha256 != first.sha256


def test_a_call_returns_its_value_with_its_printing_swallowed(tmp_path, capsys):
    notebook = load_notebook(network(user_file(tmp_path)), probe=False)
    assert notebook.call("forward", 1, 2) == (1, 2)
    assert capsys.readouterr().out == ""


def test_an_error_names_the_users_innermost_frame_and_function(tmp_path):
    notebook = load_notebook(network(user_file(tmp_path)), probe=False)
    with pytest.raises(UserCodeError) as raised:
        notebook.call("backward")
    assert str(raised.value) == (
        "backward_prop raised ZeroDivisionError: division by zero at my_net.py:12 in helper: `return 1 / len(args)`"
    )
    assert raised.value.function == "backward_prop" and isinstance(raised.value.__cause__, ZeroDivisionError)


def test_an_error_outside_the_users_file_names_no_frame(tmp_path):
    path = user_file(tmp_path, "\nfrom math import sqrt\n")
    notebook = load_notebook(network(path, functions={"forward": "sqrt"}), probe=False)
    with pytest.raises(UserCodeError, match=r"^sqrt raised ValueError: math domain error$"):
        notebook.call("forward", -1.0)


LOOPS = (
    "\ndef spin(*args):\n    while True:\n        try:\n            pass\n        except Exception:\n            pass\n"
)


def test_a_call_that_never_returns_is_ended_at_the_timeout_even_if_it_catches_exceptions(tmp_path):
    notebook = load_notebook(
        network(user_file(tmp_path, LOOPS), functions={"forward": "spin"}, call_timeout=0.2), probe=False
    )
    before = signal.getsignal(signal.SIGALRM)
    with pytest.raises(UserCodeError, match=r"^spin did not return within 0\.2 s \(network\.call_timeout\)"):
        notebook.call("forward")
    assert signal.getsignal(signal.SIGALRM) is before and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_call_in_a_worker_thread_is_ended_at_the_timeout_too(tmp_path):
    notebook = load_notebook(
        network(user_file(tmp_path, LOOPS), functions={"forward": "spin"}, call_timeout=0.2), probe=False
    )
    said = []

    def worker():
        try:
            notebook.call("forward")
        except UserCodeError as err:
            said.append(str(err))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert not thread.is_alive() and said == [
        "spin did not return within 0.2 s (network.call_timeout): does it loop forever?"
    ]


def test_a_block_within_its_time_is_left_alone():
    with time_limit(5):
        total = sum(range(1000))
    assert total == 499500 and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
