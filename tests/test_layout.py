"""Imports point one way: data, network, optimizers <- train <- run/task <- backends <- run/sweep;
results, claims and report import neither Hydra nor config/ or run/; the package imports no benchmarks/."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nnscratch"
BASE = {
    "paths",
    "run_config",
    "data",
    "datasets",
    "network",
    "optimizers",
    "diagnostics",
    "environment",
    "stats",
    "diagnose",
}
# what each room may import (rooms: a top-level module, or a subpackage)
ALLOWED = {
    "paths": set(),
    "run_config": set(),
    "data": set(),
    "datasets": {"paths", "data"},
    "network": set(),
    "optimizers": {"network"},
    "diagnostics": set(),
    "stats": set(),
    "diagnose": {"paths"},
    "environment": set(),
    "train": BASE | {"train"},
    "networks": BASE | {"train", "networks"},
    "config": BASE | {"config", "networks"},
    "results": {"paths", "diagnostics"},
    "claims": {"paths", "diagnostics", "results", "stats", "claims"},
    "report": {"paths", "diagnostics", "diagnose", "results", "claims", "stats", "report"},
    "loggers": {"paths", "results", "config", "loggers"},
    "run": BASE | {"train", "networks", "config", "results", "claims", "loggers", "run"},
}
# each imports only earlier
RUN_ORDER = ["prepared", "task", "plan", "progress", "loky", "dask", "adaptive", "sweep", "repair"]
NO_HYDRA = {
    "run_config",
    "results",
    "claims",
    "report",
    "train",
    "data",
    "datasets",
    "network",
    "optimizers",
    "diagnostics",
    "stats",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of its code (a function's import counts too)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    # a module's own package (its __init__) runs first whatever it imports: not an edge of its own
    return {m: {i for i in imports(p) if i in modules and not m.startswith(i)} for m, p in modules.items()}


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "package"


def test_every_import_points_down_or_sideways_within_its_room():
    wrong = [
        f"{a} imports {b}"
        for a, deps in graph().items()
        for b in deps
        if room(a) in ALLOWED and room(b) not in ALLOWED[room(a)]
    ]
    assert not wrong, wrong


def test_the_runner_stages_import_only_earlier_stages():
    order = {f"nnscratch.run.{m}": i for i, m in enumerate(RUN_ORDER)}
    wrong = [
        f"{a} imports {b}"
        for a, deps in graph().items()
        for b in deps
        if a in order and b in order and order[b] >= order[a]
    ]
    assert not wrong, wrong


def test_no_module_imports_back_a_module_that_imports_it():
    g = graph()

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in g.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    cycles = sorted(m for m in g if m in reach(m))
    assert not cycles, cycles


@pytest.mark.parametrize("room_name", sorted(NO_HYDRA))
def test_the_model_records_and_report_do_without_hydra(room_name):
    paths = [p for p in PACKAGE.rglob("*.py") if room(module_name(p)) == room_name]
    used = {i.split(".")[0] for p in paths for i in imports(p)}
    assert paths and not used & {"hydra", "omegaconf"}


def test_the_package_imports_no_benchmark():
    """Measurement tools live beside the package (benchmarks/), as scikit-learn keeps its own."""
    wrong = [
        f"{module_name(p)} imports {i}"
        for p in PACKAGE.rglob("*.py")
        for i in imports(p)
        if i.split(".")[0] == "benchmarks"
    ]
    assert not wrong, wrong


def test_no_two_library_functions_share_a_name():
    """One name, one thing: a function defined at the top of two modules (a `cell_table` in claims and in
    the report) makes a reader ask which one a call means; name each for what it computes."""
    where: dict[str, list[str]] = {}
    for p in sorted(PACKAGE.rglob("*.py")):
        for node in ast.parse(p.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                where.setdefault(node.name, []).append(module_name(p))
    shared = {name: modules for name, modules in where.items() if len(modules) > 1}
    assert not shared, shared


def test_no_two_library_classes_share_a_name():
    """One name, one thing: `Adam` the optimizer and `Adam` its config block make a reader (and an import)
    ask which one is meant; a schema's dataclass says it is config (`AdamConfig`, `SweepSettings`)."""
    where: dict[str, list[str]] = {}
    for p in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ClassDef):
                where.setdefault(node.name, []).append(module_name(p))
    shared = {name: modules for name, modules in where.items() if len(modules) > 1}
    assert not shared, shared


def parameter_count(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    args = node.args
    named = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    return len(named) - (1 if named and named[0].arg in ("self", "cls") else 0)


def test_no_library_function_takes_more_than_six_parameters():
    """Objects, not dicts unpacked into long argument lists: what travels together is one object (a
    SweepRequest, TaskHooks, a Cache); about five parameters at most, six where nothing groups."""
    over = {
        f"{module_name(p)}.{node.name}": parameter_count(node)
        for p in sorted(PACKAGE.rglob("*.py"))
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and parameter_count(node) > 6
    }
    assert not over, over


NO_LOGIC = {"nnscratch.paths", "nnscratch.run.dispatch"}  # constants; one dataclass


def test_every_library_module_with_logic_has_a_test_module_named_for_it():
    """tests/test_<module>.py, by its dotted name (test_run_task.py) or its own (test_stats.py)."""
    tests = {p.name for p in Path(__file__).parent.glob("test_*.py")}
    missing = [
        name
        for p in sorted(PACKAGE.rglob("*.py"))
        if p.name != "__init__.py" and (name := module_name(p)) not in NO_LOGIC
        if not {f"test_{'_'.join(name.split('.')[1:])}.py", f"test_{p.stem}.py"} & tests
    ]
    assert not missing, missing
