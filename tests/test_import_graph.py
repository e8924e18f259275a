"""The import graph: layers, no cycles, and function-level imports only where they keep the
fast commands free of torch.

Every ``import`` in artgan's source is read statically (module level and inside
functions), relative imports resolved, ``from pkg import name`` counted as importing
``pkg.name`` when that is a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "artgan"

#: What each layer may import (besides itself, the standard library and third parties).
#: ``artgan.core`` knows no plugins, metrics, evaluation or CLI.
LAYERS = {
    "core": set(),
    "evaluation": {"core"},
    "metrics": {"core", "evaluation"},
    "plugins": {"core", "metrics", "components", "hookspecs", "__init__"},
    "hookspecs": set(),
    "plugin_host": {"core", "hookspecs"},
    "components": {"core", "plugin_host"},
    "builder": {"core", "evaluation"},
    "api": {"core", "builder", "plugin_host"},
    "testing": {"core", "plugin_host"},
    "translation": {"core"},
    "restoration": {"core", "evaluation", "metrics", "plugin_host"},
    "report": {"core"},
    "studio": {"core", "restoration", "plugin_host", "translation"},
    "cli": {"*"},
    "__init__": {"core", "hookspecs", "components", "api"},
    "__main__": {"cli"},
}


def module_name(path: Path) -> str:
    parts = ["artgan", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1]) if parts[-1] == "__init__" else ".".join(parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}
#: Third-party packages slow enough to import that the fast commands avoid them.
HEAVY_PACKAGES = {"torch", "torchvision", "matplotlib", "numpy", "PIL", "scipy", "skimage"}


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    is_package = MODULES.get(module, Path()).name == "__init__.py"
    base = module.split(".")[:len(module.split(".")) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str) -> list[tuple[str, bool]]:
    """(imported artgan module, at module level?) for every import in ``module``."""
    tree = ast.parse(MODULES[module].read_text())
    top = set(map(id, tree.body))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                       for a in node.names]
        else:
            continue
        level = id(node) in top or _in_module_level_block(tree, node)
        found += [(t, level) for t in targets if t.split(".")[0] == "artgan"]
    return found


def _in_module_level_block(tree: ast.Module, node: ast.AST) -> bool:
    """Imports inside a module-level ``if``/``try`` (version switches) count as top level."""
    for statement in tree.body:
        if isinstance(statement, (ast.If, ast.Try)) and any(n is node for n in ast.walk(statement)):
            return True
    return False


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_belongs_to_a_layer():
    assert {layer(m) for m in MODULES} <= set(LAYERS)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_layers_import_only_what_they_may(module):
    allowed = LAYERS[layer(module)]
    for target, _ in imports(module):
        other = layer(target)
        if other == layer(module) or "*" in allowed or target == "artgan.core.version":
            continue
        assert other in allowed, f"{module} imports {target}: the {layer(module)} layer may " \
                                 f"import only {sorted(allowed) or 'itself'}"


def test_core_imports_nothing_outside_core():
    for module in MODULES:
        if layer(module) == "core":
            outside = [t for t, _ in imports(module) if layer(t) != "core"]
            assert not outside, f"{module} imports {outside}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_between_modules_or_layers():
    modules = {m: {t for t, _ in imports(m) if t in MODULES and t != m} for m in MODULES}
    assert _cycles(modules) == []
    layers: dict[str, set[str]] = {}
    for m, targets in modules.items():
        layers.setdefault(layer(m), set()).update(layer(t) for t in targets
                                                  if layer(t) != layer(m))
    assert _cycles(layers) == []


def _heavy() -> set[str]:
    """Modules that import a heavy package (torch, numpy, Pillow, ...) at module level,
    directly or through other artgan modules."""
    direct = {}
    for m, path in MODULES.items():
        tree = ast.parse(path.read_text())
        names = set()
        for node in tree.body:
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module.split(".")[0])
        direct[m] = bool(names & HEAVY_PACKAGES)
    heavy = {m for m, is_heavy in direct.items() if is_heavy}
    edges = {m: {t for t, top in imports(m) if top and t in MODULES} for m in MODULES}
    changed = True
    while changed:
        changed = False
        for m, targets in edges.items():
            if m not in heavy and targets & heavy:
                heavy.add(m)
                changed = True
    return heavy


def test_function_level_imports_only_keep_light_modules_light():
    """An artgan import inside a function is there to keep a torch-free module (the CLI's
    commands, hook modules, ``artgan --help``, ``artgan list``) free of torch: the
    importing module must be light and the imported one heavy. Anywhere else it belongs
    at the top of the module."""
    heavy = _heavy()
    needless = []
    for m in MODULES:
        for target, top in imports(m):
            if top or target not in MODULES:
                continue
            if m in heavy or target not in heavy:
                needless.append(f"{m} -> {target}")
    assert not needless, "function-level imports that can move to the top:\n" + \
        "\n".join(sorted(needless))


def test_the_fast_commands_stay_light():
    heavy = _heavy()
    light = ["artgan", "artgan.cli", "artgan.plugin_host", "artgan.core.registry",
             "artgan.core.options", "artgan.core.config", "artgan.cli.run_cmd",
             "artgan.cli.list_cmd", *[m for m in MODULES if m.startswith("artgan.cli.") and
                                     m.endswith("_cmd")],
             *[f"artgan.plugins.{name}" for name in ("dcgan", "cgan", "losses", "data",
                                                      "metrics", "augment")]]
    assert sorted(m for m in light if m in heavy) == []
