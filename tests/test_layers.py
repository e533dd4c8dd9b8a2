"""The architecture's import rules: a room knows the rooms below it and never those above.

Every module of a room is read as source, never imported, so a forbidden import is found
even in code that only runs under TYPE_CHECKING, on another platform or behind a flag.
Python files are parsed with `ast`; Cython files (.pyx/.pxd) have their `import`/`cimport`
lines matched with a regular expression, which is enough for Cython's import syntax.
A new rule is one row in RULES.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Rule:
    room: str  # a folder of the package, relative to the repository root
    forbidden: tuple[str, ...]  # module prefixes the room must not import
    allowed: tuple[str, ...] = ()  # exceptions inside the forbidden prefixes

    def breaks(self, module: str) -> bool:
        def under(prefixes: tuple[str, ...]) -> bool:
            return any(module == p or module.startswith(p + ".") for p in prefixes)

        return under(self.forbidden) and not under(self.allowed)


# what storage and monitoring keep or show, never call
UPPER = ("engine.gateway", "engine.oms", "engine.strategy", "engine.risk", "engine.host")

RULES = [
    # the simulator speaks the venues' formats through engine.wire, never the adapters
    Rule("engine/sim", ("engine.gateway",)),
    # the Cython core is the bottom room
    Rule("engine/_core", ("engine",), allowed=("engine._core",)),
    # shared by gateway/ and sim/, so it may know neither, nor anything above model/ and _core/
    Rule("engine/wire", ("engine.gateway", "engine.sim", "engine.data", "engine.app")),
    # the data layer knows no transport and no venue
    Rule("engine/data", ("engine.gateway", "engine.sim", "engine.app")),
    # only the composition root wires components
    Rule("engine/gateway", ("engine.app", "engine.sim", "engine.oms")),
    # the OMS drives adapters through engine.gateway's interface; it never builds a venue's
    Rule("engine/oms", ("engine.app", "engine.sim", "engine.data")),
    # strategies see the engine through the event interface only, never a transport or venue
    Rule("engine/strategy", ("engine.gateway", "engine.oms", "engine.sim", "engine.app")),
    # risk judges intents and positions in grid units; it knows no venue or transport
    Rule("engine/risk", ("engine.gateway", "engine.oms", "engine.sim", "engine.app")),
    # the strategy host wires strategy, risk and OMS together; it never builds a venue's parts
    Rule("engine/host", ("engine.sim", "engine.app", "engine.gateway")),
    # storage keeps what it is given; it knows no venue, order manager or strategy
    Rule("engine/storage", (*UPPER, "engine.sim", "engine.app")),
    # the monitor reads what it is handed at scrape time; it calls nothing of the engine
    Rule(
        "engine/monitor",
        (*UPPER, "engine.sim", "engine.app", "engine.storage", "engine.data", "engine.wire"),
    ),
    # alerts read signals and act through callables they are handed, like the monitor
    Rule(
        "engine/alerts",
        (
            *UPPER,
            "engine.sim",
            "engine.app",
            "engine.storage",
            "engine.data",
            "engine.wire",
            "engine.monitor",
        ),
    ),
    # notifications format and send what they are given; they know no alert rule
    Rule(
        "engine/notify",
        (
            *UPPER,
            "engine.sim",
            "engine.app",
            "engine.storage",
            "engine.data",
            "engine.wire",
            "engine.monitor",
            "engine.alerts",
        ),
    ),
]

SOURCE_SUFFIXES = (".py", ".pyi", ".pyx", ".pxd")

# `import a.b, c`, `cimport a.b as x`, `from a.b import c`, `from a.b cimport c`, `from . cimport c`
_CYTHON_FROM = re.compile(r"^\s*from\s+([.\w]+)\s+c?import\b", re.MULTILINE)
_CYTHON_IMPORT = re.compile(
    r"^\s*c?import\s+([.\w]+(?:\s+as\s+\w+)?(?:\s*,\s*[.\w]+(?:\s+as\s+\w+)?)*)", re.MULTILINE
)


def _package_of(path: Path, root: Path) -> str:
    """Dotted package containing `path` (the module itself for an __init__)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    parts.pop()  # the module's own name (or "__init__")
    return ".".join(parts)


def _absolute(module: str, level: int, path: Path, root: Path) -> str:
    if level == 0:
        return module
    package = _package_of(path, root).split(".")
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _python_imports(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node.module or "", node.level, path, root)
            yield node.lineno, module
            # `from engine import gateway` imports engine.gateway
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{module}.{alias.name}"


def _cython_imports(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    text = path.read_text(encoding="utf-8")

    def line_of(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    for match in _CYTHON_FROM.finditer(text):
        dotted = match.group(1)
        level = len(dotted) - len(dotted.lstrip("."))
        yield line_of(match.start()), _absolute(dotted.lstrip("."), level, path, root)
    for match in _CYTHON_IMPORT.finditer(text):
        for item in match.group(1).split(","):
            yield line_of(match.start()), item.split()[0]


def imports_of(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in a source file under `root`."""
    if path.suffix in (".pyx", ".pxd"):
        return list(_cython_imports(path, root))
    return list(_python_imports(path, root))


def violations(rule: Rule, root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted((root / rule.room).rglob("*")):
        if path.suffix not in SOURCE_SUFFIXES or not path.is_file():
            continue
        for line, module in imports_of(path, root):
            if rule.breaks(module):
                found.append(f"{path.relative_to(root)}:{line} imports {module}")
    return found


@pytest.mark.parametrize("rule", RULES, ids=[r.room for r in RULES])
def test_room_imports_nothing_forbidden(rule: Rule) -> None:
    assert (ROOT / rule.room).is_dir(), f"{rule.room} does not exist: update RULES"
    assert violations(rule) == []


def test_the_scanner_finds_forbidden_imports(tmp_path: Path) -> None:
    # A fake room with every import shape, so that a scanner that saw nothing would fail here.
    room = tmp_path / "engine" / "room"
    (room / "deep").mkdir(parents=True)
    (tmp_path / "engine" / "__init__.py").write_text("")
    (room / "__init__.py").write_text("")
    (room / "plain.py").write_text("import os\nimport engine.gateway.ws as ws\n")
    (room / "fromimp.py").write_text("from engine.gateway.signing import x\n")
    (room / "name.py").write_text("from engine import gateway\n")
    (room / "deep" / "rel.py").write_text("from ...gateway import ws\n")
    (room / "hidden.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import engine.gateway\n"
    )
    (room / "core.pyx").write_text("from engine.gateway.ws cimport Conn\ncimport numpy\n")
    (room / "core.pxd").write_text("cimport engine.gateway.book as book, libc\n")
    (room / "fine.py").write_text("from engine.model import instrument\nfrom . import fine\n")

    rule = Rule("engine/room", ("engine.gateway",))
    found = violations(rule, tmp_path)
    by_file = {line.split(":")[0] for line in found}
    assert by_file == {
        "engine/room/plain.py",
        "engine/room/fromimp.py",
        "engine/room/name.py",
        "engine/room/deep/rel.py",
        "engine/room/hidden.py",
        "engine/room/core.pyx",
        "engine/room/core.pxd",
    }
    assert all("engine.gateway" in line for line in found)
    # an allowed sub-room is not a violation, its parent is
    core_rule = Rule("engine/room", ("engine",), allowed=("engine.model", "engine.room"))
    assert not any("fine.py" in line for line in violations(core_rule, tmp_path))
    assert any("plain.py" in line for line in violations(core_rule, tmp_path))
