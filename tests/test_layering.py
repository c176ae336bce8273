"""The layering of the four packages and the command line on top of them.

``malpyeong_eval`` outside its command line (``malpyeong_eval/cli/``, ``__main__.py``) imports
nothing from ``leaderboard``, ``train`` or ``rewards`` (nor the command line), not even inside a
function; between the layers, imports go one way only: leaderboard → malpyeong_eval,
rewards → malpyeong_eval, train → malpyeong_eval, rewards, leaderboard, and the command line
(``cli``) → all four. Nothing imports the command line.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("malpyeong_eval", "leaderboard", "train", "rewards")
ABOVE_THE_CORE = ("leaderboard", "train", "rewards")
LAYERS = (*PACKAGES, "cli")  # the command line is a layer of its own, on top
ALLOWED = {
    *(("cli", package) for package in PACKAGES),
    ("leaderboard", "malpyeong_eval"),
    ("rewards", "malpyeong_eval"),
    ("train", "malpyeong_eval"),
    ("train", "rewards"),
    ("train", "leaderboard"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_command_line(path: Path) -> bool:
    """``malpyeong_eval``'s command-line layer: the ``cli`` sub-package and ``python -m``."""
    relative = path.relative_to(ROOT / "malpyeong_eval").parts
    return relative[0] == "cli" or relative == ("__main__.py",)


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module) of every import in the file, at any depth (function-local too),
    and of every ``importlib.import_module``/``__import__`` call with a literal name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:  # ``from . import cli`` imports a submodule
                yield node.lineno, f"{target}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if called in ("import_module", "__import__"):
                yield node.lineno, node.args[0].value


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


CORE = [path for path in python_files("malpyeong_eval") if not is_command_line(path)]


def test_the_core_is_found():
    names = {module_name(path) for path in CORE}
    assert {"malpyeong_eval.runner", "malpyeong_eval.checkpoints", "malpyeong_eval.recording",
            "malpyeong_eval.evaluation", "malpyeong_eval.generation"} <= names
    assert not any(name.startswith("malpyeong_eval.cli") for name in names)


@pytest.mark.parametrize("path", CORE, ids=[module_name(path) for path in CORE])
def test_core_module_imports_nothing_above_it(path):
    for line, target in imported_modules(path):
        top = target.split(".")[0]
        assert top not in ABOVE_THE_CORE, f"{path.relative_to(ROOT)}:{line} imports {target}"
        assert not (target == "malpyeong_eval.cli" or target.startswith("malpyeong_eval.cli.")), \
            f"{path.relative_to(ROOT)}:{line} imports the command line ({target})"


def layer_of_module(name: str) -> str | None:
    """The layer of a module name: ``cli`` for the command line, else its top package (``None``: outside)."""
    if name == "malpyeong_eval.__main__" or name == "malpyeong_eval.cli" or name.startswith("malpyeong_eval.cli."):
        return "cli"
    top = name.split(".")[0]
    return top if top in PACKAGES else None


def package_graph() -> dict[tuple[str, str], list[str]]:
    """Layer → layer import edges (the command line one layer of its own), each with where."""
    edges: dict[tuple[str, str], list[str]] = {}
    for package in PACKAGES:
        for path in python_files(package):
            source = layer_of_module(module_name(path))
            for line, target in imported_modules(path):
                layer = layer_of_module(target)
                if layer is not None and layer != source:
                    edges.setdefault((str(source), layer), []).append(f"{path.relative_to(ROOT)}:{line}")
    return edges


def test_imports_between_packages_go_one_way():
    edges = package_graph()
    unexpected = {edge: where for edge, where in edges.items() if edge not in ALLOWED}
    assert not unexpected, unexpected
    # and, allowed or not, the graph has no cycle
    graph: dict[str, set[str]] = {layer: set() for layer in LAYERS}
    for source, target in edges:
        graph[source].add(target)
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in graph[node]:
            assert state.get(nxt) != "open", f"import cycle: {' → '.join(trail + [node, nxt])}"
            if nxt not in state:
                visit(nxt, trail + [node])
        state[node] = "done"

    for layer in LAYERS:
        if layer not in state:
            visit(layer, [])


def test_nothing_imports_the_command_line():
    """The command line imports everything and nothing imports it (but itself and ``python -m``)."""
    edges = package_graph()
    into_the_command_line = {edge: where for edge, where in edges.items() if edge[1] == "cli"}
    assert into_the_command_line == {}
    assert {("cli", "leaderboard"), ("cli", "train")} <= set(edges)  # the graph sees the command line's imports


def test_importing_the_core_loads_nothing_above_it():
    modules = sorted(module_name(path) for path in CORE if path.name != "__main__.py" and "evaluate_metric" not in path.parts)
    code = ("import sys\n" + "".join(f"import {name}\n" for name in modules)
            + f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(ABOVE_THE_CORE)!r}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_building_the_command_line_loads_no_database_or_model_library():
    """Every command is registered at start, so what their modules import, every command (and ``--help``)
    pays: the database and model libraries are imported by the commands that use them, when they run."""
    code = ("import sys\nfrom malpyeong_eval.cli import build_app\nbuild_app()\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'alembic', 'torch', 'transformers', 'trl'}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_the_leaderboard_is_the_core_s_recorder(tmp_path):
    from leaderboard import store
    from leaderboard_support import make_result
    from malpyeong_eval.errors import AlreadyRecorded
    from malpyeong_eval.recording import RunMetadata, RunRecorder

    # a second run of the same fingerprint raises the core's own AlreadyRecorded (what the runner
    # catches to report the stored run), holding the stored run
    board = store.Leaderboard(f"sqlite:///{tmp_path / 'board.db'}")
    first = board.record(make_result(1), name="first", metadata=RunMetadata(fingerprint="same"))
    with pytest.raises(AlreadyRecorded) as raised:
        board.record(make_result(1), name="second", metadata=RunMetadata(fingerprint="same"))
    assert (raised.value.run.id, raised.value.run.name) == (first.id, "first") and board.count() == 1
    # mypy checks the protocol itself (Leaderboard is passed as a RunRecorder in train/ and cli/run.py);
    # here, at least the four methods take the protocol's parameters, by name, kind and default.
    for method in ("find", "record", "items", "get"):
        def shape(function):
            return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]

        assert shape(getattr(store.Leaderboard, method)) == shape(getattr(RunRecorder, method)), method


def test_no_two_modules_import_each_other_even_lazily():
    """The module graph of the four packages has no cycle, function-local imports included (a lazy
    import that closes a circle still ties the two modules into one). Importing a package imports
    its ``__init__``, so a module's import of ``a.b.c`` counts as one of the module ``a.b.c``; a
    module's own packages (``from . import x`` names its package) are already imported before it and
    are no edge."""
    modules = {module_name(path): path for package in PACKAGES for path in python_files(package)}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for _, target in imported_modules(path):
            if target in modules and target != name and not name.startswith(f"{target}."):
                graph[name].add(target)
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append([*trail[trail.index(nxt):], nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []
