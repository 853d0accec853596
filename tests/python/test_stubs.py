"""The type stub of hpyx._core names exactly what the module exports, and the
package is marked typed."""

import ast
import pathlib

import hpyx
from hpyx import _core

PACKAGE = pathlib.Path(hpyx.__file__).parent


def test_core_stub_matches_the_module():
    tree = ast.parse((PACKAGE / "_core.pyi").read_text())
    stub = {node.name for node in tree.body if hasattr(node, "name")}
    stub |= {node.target.id for node in tree.body if isinstance(node, ast.AnnAssign)}
    stub.discard("_T")
    exported = {name for name in dir(_core) if not name.startswith("__")} | {"__version__"}
    # Test hooks of the `fault-injection` feature exist only in test builds.
    fault_hooks = {"_FAULT_POINTS", "_inject_panic", "_injected_remaining"}
    assert stub - fault_hooks == exported - fault_hooks
    assert exported & fault_hooks in (set(), fault_hooks)


def test_package_is_typed():
    assert (PACKAGE / "py.typed").exists()
