"""The layers, read from the source: no import cycle among the packages (imports for type
checking and inside functions count too), and the Telegram-free packages stay Telegram-free."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "knowledge", "storage", "tickets")
TELEGRAM_FREE = ("knowledge", "storage", "tickets")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES
            for path in sorted((ROOT / package).rglob("*.py"))}


def imported(path: Path, name: str, known: set[str]) -> set[str]:
    """Every module `path` imports, anywhere in it (under `if TYPE_CHECKING:` and inside
    functions too). `from package import submodule` counts as importing the submodule."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            submodules = {f"{base}.{alias.name}" for alias in node.names}
            inside = submodules & known
            found.update(inside)
            if inside != submodules or not inside:
                found.add(base)
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: {other for other in imported(path, name, known) if other in known}
            for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path) per strongly connected component with more than one module,
    or a module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges[node]:
                found.append(_path(edges, set(component), node))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _path(edges: dict[str, set[str]], component: set[str], start: str) -> list[str]:
    """A cycle through `start` inside `component`, for the failure message."""
    paths = [[start]]
    seen = {start}
    while paths:
        path = paths.pop(0)
        for other in sorted(edges[path[-1]] & component):
            if other == start:
                return [*path, start]
            if other not in seen:
                seen.add(other)
                paths.append([*path, other])
    return [start]


def test_the_reader_sees_every_kind_of_import(tmp_path: Path) -> None:
    edges = graph()
    assert "bot.services" in edges["bot.forms"]  # a plain `from … import`
    assert "bot.dialogs.payment_arrangement" in edges["bot.dialogs.cancellation"]  # a submodule
    assert "bot.app" in edges["bot.cli"]  # inside a function
    source = tmp_path / "example.py"
    source.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                      "    from bot.forms import Form\n    import aiogram.types\n")
    assert {"bot.forms", "aiogram.types"} <= imported(source, "bot.example", {"bot.forms"})


def test_the_cycle_finder_finds_cycles() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert sorted(map(tuple, cycles(edges))) == [("a", "b", "c", "a"), ("e", "e")]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle() -> None:
    found = cycles(graph())
    assert found == [], "import cycles: " + "; ".join(" → ".join(cycle) for cycle in found)


def test_the_services_do_not_know_the_dialogs() -> None:
    assert not {"bot.conversation", "bot.forms", "bot.menu", "bot.dialog"} & graph()["bot.services"]


def test_telegram_free_packages_import_neither_bot_nor_aiogram() -> None:
    found = modules()
    offending = []
    for name, path in found.items():
        if not name.startswith(TELEGRAM_FREE):
            continue
        for other in imported(path, name, set(found)):
            if other.split(".")[0] in ("bot", "aiogram"):
                offending.append(f"{name} imports {other}")
    assert offending == []
