"""The shape of the code: no import cycles anywhere, and the rules of pyproject's import-linter
contracts (who may import whom), so the layout stays the one the README describes."""

from __future__ import annotations

import ast
import graphlib
import sys
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gateway", "accounts", "sessions_app", "workers_app", "billing", "node_agent")
MAX_MODULE_LINES = 400


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None, exclude_type_checking_imports=False)


def test_no_module_takes_part_in_an_import_cycle(graph):
    """Every import counts, also one inside a function: hiding a cycle there is a cycle."""
    dependencies = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    try:
        graphlib.TopologicalSorter(dependencies).prepare()
    except graphlib.CycleError as exc:
        pytest.fail("import cycle: " + " -> ".join(exc.args[1]))


def test_the_import_contracts_hold(capsys):
    """pyproject.toml's [tool.importlinter] contracts; `make lint` runs the same."""
    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    assert code == 0, capsys.readouterr().out


# The node protocol (what the backend imports of the node agent): the standard library and itself.
WIRE_MODULES = (
    "node_agent.protocol",
    "node_agent.wire",
    "node_agent.groups",
    "node_agent.contacts",
    "node_agent.chats",
)


@pytest.mark.parametrize("module", WIRE_MODULES)
def test_the_node_protocol_uses_the_standard_library_only(module):
    tree = ast.parse((ROOT / f"{module.replace('.', '/')}.py").read_text())
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    outside = {
        name
        for name in imported
        if name not in WIRE_MODULES
        and name.split(".")[0] not in set(sys.stdlib_module_names) | {"__future__"}
    }
    assert not outside, outside


def test_no_module_is_past_400_lines():
    """A module past ~400 lines becomes a package, split along its seams (migrations aside);
    tests and benchmarks too."""
    big = {
        str(path.relative_to(ROOT)): lines
        for package in (*PACKAGES, "tests", "bench")
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
        and (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not big, big
