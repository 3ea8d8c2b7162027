"""The modules' dependencies run one way (docs/architecture.md, "Layers"), read from the
source with `ast`: a module imports only from its own layer or lower ones, the imports
between modules form no cycle, and no function imports from the project to dodge one."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("accounts", "workflows", "smartspec")

# Lowest first; a module may import from its own layer and the ones before it. The first
# prefix that matches a module names its layer; a workflows module none of these match
# (api, views, admin, consumers, tasks, management commands, forms, ...) is on top.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    # Helpers that import nothing of the product: rows of hand-written SQL, logging.
    ("helpers", ("smartspec.model_rows", "workflows.observability.logging")),
    ("accounts", ("accounts",)),
    ("domain", ("workflows.domain",)),
    ("models", ("workflows.models",)),
    ("workspace_policy", ("workflows.workspace_policy",)),
    # Reads that engine, services and pages share: permission-filtered querysets, the
    # specs' status cache.
    ("readers", ("workflows.selectors", "workflows.specs")),
    ("engine", ("workflows.engine",)),
    ("services", ("workflows.services",)),
    ("doors", ("workflows", "smartspec")),
]

# Imports inside a function that are not there to dodge a cycle: (module, function) → why.
ALLOWED_IN_FUNCTIONS: dict[tuple[str, str], str] = {
    ("workflows.apps", "_install_builtin_templates"): (
        "apps.py is imported before the app registry is ready, so it may not import models "
        "(or services that do) at its top; Django's documented place is inside ready() or a "
        "signal handler connected there"
    ),
    (
        "workflows.apps",
        "ready",
    ): "registering the system checks in AppConfig.ready() is Django's documented pattern",
    ("workflows.observability.probe", "probe_worker"): (
        "the container probe is a script that answers for the web without starting Django; "
        "only the worker probe calls django.setup(), and models can be imported only after it"
    ),
}


@dataclass(frozen=True)
class Import:
    module: str  # the importer
    target: str  # the module imported (a submodule when `from package import submodule`)
    line: int
    function: str  # the enclosing function, "" at module level
    type_checking: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> dict[str, Path]:
    files = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                files[module_name(path)] = path
    return files


FILES = source_files()


def _targets(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level or not node.module:
        return []
    # `from workflows.engine import git_runs` imports the submodule git_runs.
    subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in FILES]
    return subs or [node.module]


def imports_of(module: str) -> list[Import]:
    found: list[Import] = []

    def visit(node: ast.AST, function: str, type_checking: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                for target in _targets(child):
                    if target.split(".")[0] in PACKAGES:
                        found.append(Import(module, target, child.lineno, function, type_checking))
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, function or child.name, type_checking)
            elif isinstance(child, ast.If) and ast.unparse(child.test) in (
                "TYPE_CHECKING",
                "typing.TYPE_CHECKING",
            ):
                visit(child, function, True)
            else:
                visit(child, function, type_checking)

    visit(ast.parse(FILES[module].read_text()), "", False)
    return found


ALL_IMPORTS = [imp for module in sorted(FILES) for imp in imports_of(module)]


def layer_of(module: str) -> int:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    raise AssertionError(f"{module} is in no layer")


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    upward = [
        f"{imp.module}:{imp.line} ({LAYERS[layer_of(imp.module)][0]}) imports {imp.target} "
        f"({LAYERS[layer_of(imp.target)][0]})"
        for imp in ALL_IMPORTS
        if layer_of(imp.target) > layer_of(imp.module)
    ]
    assert upward == []


def test_accounts_never_imports_workflows() -> None:
    assert [
        imp for imp in ALL_IMPORTS if imp.module.startswith("accounts") and imp.target.startswith("workflows")
    ] == []


def test_no_function_imports_from_the_project() -> None:
    inside = [
        f"{imp.module}:{imp.line} in {imp.function}() imports {imp.target}"
        for imp in ALL_IMPORTS
        if imp.function and not imp.type_checking and (imp.module, imp.function) not in ALLOWED_IN_FUNCTIONS
    ]
    assert inside == []


def test_the_allowed_function_imports_still_exist() -> None:
    """An exception that no longer has anything to excuse goes from the list."""
    used = {(imp.module, imp.function) for imp in ALL_IMPORTS if imp.function}
    assert set(ALLOWED_IN_FUNCTIONS) <= used


def test_the_module_level_imports_form_no_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for imp in ALL_IMPORTS:
        if not imp.function and not imp.type_checking and imp.target in FILES and imp.target != imp.module:
            graph.setdefault(imp.module, set()).add(imp.target)
    done: set[str] = set()

    def cycle_from(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for target in sorted(graph.get(module, ())):
            if found := cycle_from(target, [*path, module]):
                return found
        done.add(module)
        return None

    for module in sorted(graph):
        assert cycle_from(module, []) is None, " → ".join(cycle_from(module, []) or [])
