"""A user's network file, loaded safely: its import probed in a child process (bounded in time, and
watched for reading data or opening a connection), its functions found by the names the config maps,
and every call of its code bounded in time, with its errors told in the user's own frames.

The file is written in the tutorial's style (conf/network/notebook.yaml):

    init_params()                                       -> W1, b1, W2, b2
    forward_prop(W1, b1, W2, b2, X)                     -> Z1, A1, Z2, A2      X: (784, N)
    backward_prop(Z1, A1, Z2, A2, W1, W2, X, Y)         -> dW1, db1, dW2, db2  Y: (N,) integer labels
    update_params(W1, b1, W2, b2, dW1, db1, dW2, db2, alpha) -> W1, b1, W2, b2
    gradient_descent(X, Y, alpha, iterations)           -> W1, b1, W2, b2      (optional)
"""

from __future__ import annotations

import contextlib
import ctypes
import difflib
import hashlib
import importlib.util
import io
import json
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

# the keys of network.functions, and the tutorial's name for each
TUTORIAL_NAMES = {
    "init": "init_params",
    "forward": "forward_prop",
    "backward": "backward_prop",
    "update": "update_params",
    "train": "gradient_descent",
}
ROLES = tuple(TUTORIAL_NAMES)
OPTIONAL = ("train",)
PYTHON_FILES = (".py", ".pyc", ".pyi", ".so", ".pth", ".json", ".txt", ".cfg")  # what an import itself opens


class NetworkFileError(ValueError):
    """The user's file cannot be used at all (missing, slow or data-reading import, a function missing):
    one line naming the file, what is wrong and the fix."""


class UserCodeError(RuntimeError):
    """A call of the user's code raised or ran out of time; the message names the user's own frame,
    `function` the user's function that was called."""

    def __init__(self, message: str, function: str = ""):
        super().__init__(message)
        self.function = function


@dataclass(frozen=True)
class ImportProbe:
    """What importing the file did, seen from a child process: seconds taken, the top-level names it
    defines, and the files or connections it opened that are not Python's own (data read at import)."""

    seconds: float
    names: list[str]
    opened: list[str]


def own_network(config: dict) -> bool:
    """Whether a run config trains a network of the user's own (network=notebook), not the built-in one."""
    return (config.get("network") or {"name": "builtin"})["name"] != "builtin"


NETWORKS = ("builtin", "notebook")


def network_problems(config: dict) -> list[str]:
    """What a run config asks of a network that the network cannot do, as 'key: problem' lines."""
    network = config.get("network") or {"name": "builtin"}
    user_init = (config.get("weights") or {}).get("scheme") == "user"
    if network.get("name") not in NETWORKS:
        return [f"network.name: unknown '{network.get('name')}' (allowed: {', '.join(NETWORKS)})"]
    if not own_network(config):
        return ["weights=user: the built-in network has no init_params of yours (network=notebook has)"] * user_init
    problems = []
    if not network.get("source"):
        problems.append("network.source: missing; give your file, e.g. network.source=examples/tutorial_net.py")
    elif not Path(network["source"]).expanduser().is_file():
        problems.append(f"network.source: no file {network['source']} (from {Path.cwd()})")
    if len(config["model"].get("hidden") or []) != 1:
        problems.append(f"model.hidden: network=notebook has one hidden layer, got {config['model'].get('hidden')}")
    if (config.get("optimizer") or {"name": "gd"})["name"] != "gd":
        problems.append("optimizer: network=notebook updates with your update_params (optimizer=gd)")
    if config["train"].get("batch_size") is not None:
        problems.append("train.batch_size: network=notebook trains full-batch (train.batch_size=null)")
    return problems


def source_path(network: dict) -> Path:
    """The file `network.source` names, or NetworkFileError."""
    source = network.get("source")
    if not source:
        raise NetworkFileError("network.source: missing; give your file, e.g. network.source=examples/tutorial_net.py")
    path = Path(source).expanduser().resolve()
    if not path.is_file():
        raise NetworkFileError(f"network.source: no file {source} (from {Path.cwd()}); give the path of your .py file")
    return path


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------- the import, probed in a child


def probe_import(path: Path, timeout: float) -> ImportProbe:
    """Import `path` in a child process within `timeout` seconds; NetworkFileError if it does not
    finish, raises, or reads data or the network while importing (training belongs under
    `if __name__ == "__main__":`, where an import does not run it)."""
    code = "import sys; from nnscratch.networks.loading import report_import; report_import(sys.argv[1])"
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise NetworkFileError(
            f"{path.name}: importing it did not finish in {timeout:g} s (network.import_timeout): it trains or "
            f'loads data when imported; move that under `if __name__ == "__main__":`'
        ) from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise NetworkFileError(f"{path.name}: importing it failed: {last}")
    probe = ImportProbe(**json.loads(done.stdout.strip().splitlines()[-1]))
    if probe.opened:
        shown = ", ".join(probe.opened[:3]) + (" ..." if len(probe.opened) > 3 else "")
        raise NetworkFileError(
            f"{path.name}: importing it reads {shown}: the harness gives your functions their data; move the "
            f'loading and training under `if __name__ == "__main__":`'
        )
    return probe


def report_import(path: str) -> None:
    """In the probing child: import `path`, print one JSON line of ImportProbe's fields."""
    own = {str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    opened: list[str] = []

    def audit(event: str, args: tuple) -> None:
        if event == "open" and isinstance(args[0], str | bytes | Path):
            name = str(args[0] if not isinstance(args[0], bytes) else args[0].decode(errors="replace"))
            mode = args[1] if len(args) > 1 and isinstance(args[1], str) else "r"
            inside = any(str(Path(name).resolve()).startswith(p) for p in own) or "site-packages" in name
            if not inside and not name.endswith(PYTHON_FILES) and "__pycache__" not in name and "w" not in mode:
                opened.append(name)
        elif event == "socket.connect":
            opened.append(f"a connection to {args[1]!r}")

    sys.addaudithook(audit)
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        module = import_file(Path(path), "nnscratch_probe")
    seconds = time.perf_counter() - t0
    names = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
    print(json.dumps({"seconds": seconds, "names": names, "opened": list(dict.fromkeys(opened))}))


def import_file(path: Path, name: str) -> ModuleType:
    """Import a .py file as module `name` (registered in sys.modules, so that pickling its objects works)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- bounded calls


class _TimeUp(BaseException):
    """Raised into the user's code when its call runs out of time (BaseException: its `except Exception`
    cannot swallow it)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise _TimeUp in this thread if the block runs longer than `seconds`. In the main thread by
    SIGALRM (it interrupts a sleep too); elsewhere (a Dask worker's thread) by an asynchronous exception,
    delivered at the next Python instruction."""
    if threading.current_thread() is threading.main_thread():

        def alarm(signum, frame):
            raise _TimeUp

        before = signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, before)
        return
    target = ctypes.c_ulong(threading.get_ident())
    timer = threading.Timer(
        seconds, lambda: ctypes.pythonapi.PyThreadState_SetAsyncExc(target, ctypes.py_object(_TimeUp))
    )
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def user_frame(err: BaseException, path: Path) -> str:
    """Where in the user's file an error happened: 'my_net.py:23 in forward_prop: `Z2 = W2.dot(X) + b2`'
    (its innermost frame in that file), or '' if none is."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if Path(f.filename).resolve() == path]
    if not frames:
        return ""
    f = frames[-1]
    return f"{path.name}:{f.lineno} in {f.name}: `{(f.line or '').strip()}`"


@dataclass
class Notebook:
    """The tutorial-style functions of a user's file; `call(role, *args)` runs one, bounded in time,
    its printing swallowed, its errors raised as UserCodeError naming the user's frame."""

    path: Path
    module: ModuleType
    names: dict[str, str]  # role -> the user's function name
    timeout: float
    sha256: str

    def has(self, role: str) -> bool:
        return callable(getattr(self.module, self.names.get(role) or "", None))

    def function(self, role: str) -> Callable:
        return getattr(self.module, self.names[role])

    def call(self, role: str, *args):
        name = self.names[role]
        try:
            with time_limit(self.timeout), contextlib.redirect_stdout(io.StringIO()):
                return self.function(role)(*args)
        except _TimeUp:
            raise UserCodeError(
                f"{name} did not return within {self.timeout:g} s (network.call_timeout): does it loop forever?", name
            ) from None
        except Exception as err:
            where = user_frame(err, self.path)
            message = f"{name} raised {type(err).__name__}: {err}" + (f" at {where}" if where else "")
            raise UserCodeError(message, name) from err


_loaded: dict[tuple[str, str], ModuleType] = {}  # (path, sha256) -> module: one import per process


def missing_functions(names: dict[str, str], defined: list[str], path: Path) -> list[str]:
    """One line per required function the file does not define, with the nearest name it does."""
    lines = []
    for role in ROLES:
        name = names.get(role)
        if role in OPTIONAL or (name and name in defined):
            continue
        near = difflib.get_close_matches(name or role, defined, n=1)
        hint = f" (did you mean {near[0]}? then network.functions.{role}={near[0]})" if near else ""
        lines.append(f"{path.name}: no function {name} (network.functions.{role}){hint}")
    return lines


def load_notebook(network: dict, probe: bool = True) -> Notebook:
    """The user's file named by a `network` config block (conf/network/notebook.yaml), imported once per
    process; with `probe`, its import is first tried in a child process (probe_import)."""
    path = source_path(network)
    names = {role: (network.get("functions") or {}).get(role) or TUTORIAL_NAMES[role] for role in ROLES}
    if probe:
        found = probe_import(path, float(network.get("import_timeout", 10)))
        missing = missing_functions(names, found.names, path)
        if missing:
            raise NetworkFileError("; ".join(missing))
    sha = file_sha256(path)
    key = (str(path), sha)
    if key not in _loaded:
        try:
            _loaded[key] = import_file(path, f"nnscratch_user_{sha[:12]}")
        except Exception as err:
            raise NetworkFileError(f"{path.name}: importing it failed: {type(err).__name__}: {err}") from err
    return Notebook(path, _loaded[key], names, float(network.get("call_timeout", 60)), sha)
