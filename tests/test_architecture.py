"""Architecture checks: the core imports no SDK, the package has no import cycle, modules stay short.

Each check inspects the real code (source files, or a fresh interpreter importing the real modules), so
each fails when the rule is broken. They are fast: `ast` over the package and a few subprocesses.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from docsbot.bot.respond import is_transient
from docsbot.errors import TransientError

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / "shared"
PACKAGE = SHARED / "docsbot"

# --- the core imports no SDK ---------------------------------------------------------------------------

CORE_FORBIDDEN = ("qdrant_client", "qdrant_edge", "grpc", "numpy", "openai", "torch", "sentence_transformers")
# Every module of the answering core, plus the index's core (search, sync, and the port they speak).
CORE_MODULES = (
    "docsbot.answer",
    *sorted(f"docsbot.answer.{p.stem}" for p in (PACKAGE / "answer").glob("*.py") if p.stem != "__init__"),
    "docsbot.index.ports",
    "docsbot.index.search",
    "docsbot.index.sync",
)
INTERACTIONS_FORBIDDEN = (
    *("openai", "qdrant_client", "qdrant_edge", "bs4", "selenium", "numpy", "grpc", "tiktoken"),
    *("google.cloud.tasks_v2", "google.cloud.firestore", "pydantic"),
    # Only the Discord REST client uses requests, and the interactions function builds it lazily (for /close).
    "requests",
)


def _python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter at the repository root, this checkout's `shared/` first on the path.

    The explicit path matters: an editable install may point at another checkout of the package.
    """
    base = dict(os.environ if env is None else env)
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SHARED), str(REPO), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=REPO,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _imported(importtime_stderr: str) -> set[str]:
    """The modules a `-X importtime` run imported: the last column of each `import time:` line."""
    names = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":  # the header line
                names.add(name)
    return names


def _loaded(names: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(f for f in forbidden if f in names or any(n.startswith(f + ".") for n in names))


def test_the_core_imports_no_sdk() -> None:
    result = _python("; ".join(f"import {module}" for module in CORE_MODULES))
    assert result.returncode == 0, result.stderr[-2000:]
    imported = _imported(result.stderr)
    assert set(CORE_MODULES) <= imported  # the parse found the modules it was meant to inspect
    assert _loaded(imported, CORE_FORBIDDEN) == []


def test_the_forbidden_check_sees_a_heavy_import() -> None:
    """The same parse flags an SDK when one is imported: the check above can fail."""
    result = _python("import docsbot.index.qdrant_server")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "qdrant_client" in _loaded(_imported(result.stderr), CORE_FORBIDDEN)


def test_the_interactions_function_imports_nothing_heavy() -> None:
    """The real functions/interactions/main.py, loaded as the Functions Framework loads it (by file path).

    Without K_SERVICE (Cloud Run's marker) the module only defines its handler: that is the code between
    a cold start and the first request. Deployed, it also builds the store and Cloud Tasks clients while the
    instance starts, outside any request's 3 seconds; those are the Firestore and Tasks SDKs on purpose.
    Replaces tests/discord/test_platform.py::test_interactions_path_imports_nothing_heavy, which imported
    only docsbot.discord.* and so missed what main.py, docsbot.bot and docsbot.app pull in.
    """
    code = (
        "import importlib.util\n"
        "spec = importlib.util.spec_from_file_location('main', 'functions/interactions/main.py')\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "assert callable(module.interactions)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "K_SERVICE"}
    result = _python(code, env)
    assert result.returncode == 0, result.stderr[-2000:]
    imported = _imported(result.stderr)
    assert {"flask", "docsbot.bot.interactions"} <= imported
    assert _loaded(imported, INTERACTIONS_FORBIDDEN) == []


# --- no import cycle -------------------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = path.relative_to(SHARED).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(statements: list[ast.stmt], *, in_functions: bool) -> Iterator[str]:
    """The docsbot modules `statements` import; `if TYPE_CHECKING:` bodies never run, so they are skipped."""
    for statement in statements:
        if isinstance(statement, ast.Import):
            yield from (alias.name for alias in statement.names)
        elif isinstance(statement, ast.ImportFrom) and statement.module and statement.level == 0:
            for alias in statement.names:
                submodule = f"{statement.module}.{alias.name}"
                yield submodule if submodule in MODULES else statement.module
        elif isinstance(statement, ast.If):
            if not _is_type_checking(statement.test):
                yield from _imports(statement.body, in_functions=in_functions)
            yield from _imports(statement.orelse, in_functions=in_functions)
        elif isinstance(statement, ast.Try):
            handlers = [s for handler in statement.handlers for s in handler.body]
            body = statement.body + handlers + statement.orelse + statement.finalbody
            yield from _imports(body, in_functions=in_functions)
        elif isinstance(statement, ast.With | ast.ClassDef) or (
            in_functions and isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef)
        ):
            # Class bodies run at import time, like module-level code; function bodies only when called.
            yield from _imports(statement.body, in_functions=in_functions)


def _graph(*, in_functions: bool) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[name] = {i for i in _imports(tree.body, in_functions=in_functions) if i in MODULES and i != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path that returns to its start) per strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(graph, group) for group in groups]


def _cycle_in(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A path inside `group` from its first module back to it, for the failure message."""
    start = min(group)
    path = [start]
    seen = {start}
    node = start
    while True:
        targets = sorted(graph[node] & group)
        if start in targets and len(path) > 1:
            return [*path, start]
        node = next((t for t in targets if t not in seen), targets[0])
        if node in seen:
            return [*path[path.index(node) :], node]
        path.append(node)
        seen.add(node)


def test_no_import_cycle_at_module_level() -> None:
    """What runs on `import`: a cycle here can fail with a half-initialised module, depending on import order."""
    graph = _graph(in_functions=False)
    assert sum(len(targets) for targets in graph.values()) > 100  # the parse found the package's imports
    assert _cycles(graph) == []


def test_no_import_cycle_through_function_level_imports() -> None:
    """Lazy imports inside functions cannot break module initialisation (they run after it), so the check
    above leaves them out; a cycle through them still tangles two modules, so it is refused too."""
    assert _cycles(_graph(in_functions=True)) == []


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]  # a self-import is dropped when the graph is built


# --- short modules ---------------------------------------------------------------------------------------

MAX_LINES = 400
LONG_REASON = "Long because:"


def _long_without_reason() -> set[str]:
    offenders = set()
    for name, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_LINES:
            docstring = ast.get_docstring(ast.parse(text)) or ""
            if not any(line.startswith(LONG_REASON) for line in docstring.splitlines()):
                offenders.add(name)
    return offenders


def test_long_modules_say_why_in_their_docstring() -> None:
    assert _long_without_reason() == set()


def test_every_module_has_a_docstring() -> None:
    missing = [
        name
        for name, path in MODULES.items()
        if path.name != "__init__.py" and not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert missing == []


# --- one retryable fault ---------------------------------------------------------------------------------


def test_retryability_is_decided_by_class() -> None:
    from docsbot.answer.chat import ChatError, TransientChatError
    from docsbot.discord.rest import DiscordError, DiscordUnavailableError, DiscordUnreachableError
    from docsbot.index.errors import EmbedderMismatchError, IndexStoreError, IndexUnavailableError

    transient = [
        TransientError("x"),
        TransientChatError("timeout", "x"),
        DiscordUnavailableError(503, None, "x"),
        DiscordUnreachableError("x"),
        IndexUnavailableError("not indexed yet"),
        ConnectionResetError(),
        TimeoutError(),
    ]
    permanent = [
        ChatError("rejected", "x"),
        DiscordError(404, 10015, "Unknown Webhook"),
        EmbedderMismatchError("x"),
        IndexStoreError("x"),
        ValueError("x"),
        # Named like a retryable class, but not one: names no longer decide.
        type("ServiceUnavailable", (Exception,), {})(),
    ]
    assert [e for e in transient if not is_transient(e)] == []
    assert [e for e in permanent if is_transient(e)] == []


@pytest.mark.parametrize(
    ("module", "name"),
    [("google.api_core.exceptions", "ServiceUnavailable"), ("requests", "ReadTimeout")],
)
def test_retryable_faults_of_unwrapped_libraries_are_recognised(module: str, name: str) -> None:
    error_class = getattr(__import__(module, fromlist=[name]), name)
    assert is_transient(error_class("x"))
