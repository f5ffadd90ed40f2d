"""The tree's shape: imports follow the data flow, with no cycle and nothing reaching back up."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("lepton", "thermal_streamer")
PRODUCT = "thermal_streamer"
# The product's packages, lowest first: a module imports only from its own package and
# those before it (docs/architecture.md explains the order).
LAYERS = ("protocols", "core", "security", "control", "measure", "render", "outputs", "config",
          "mqtt", "sources", "recording")
TOP = ("app", "cli")  # the composition root and the command line, above every package


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    """Every module of the product's packages: {dotted name: file}."""
    return {module_name(path): path for package in PACKAGES
            for path in sorted((ROOT / package).rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules a module imports, at the top or inside functions."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports_of(name, path, set(modules)) for name, path in modules.items()}


def test_no_import_cycles():
    """No module imports itself through others (lazy imports inside functions count too)."""
    graph = import_graph()
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            raise AssertionError("import cycle: " + " -> ".join([*path[path.index(name):], name]))
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def rank(name: str) -> int:
    """A product module's place in the order: its package's index in LAYERS (TOP after them)."""
    part = name.split(".")[1] if "." in name else ""
    if part in LAYERS:
        return LAYERS.index(part)
    assert part in TOP, f"{name} is in no package of LAYERS or TOP"
    return len(LAYERS) + TOP.index(part)


def test_packages_import_only_down_the_order():
    """A module of one package imports only from its own package and those before it in LAYERS."""
    graph = import_graph()
    upward = [f"{name} imports {target}"
              for name, targets in sorted(graph.items())
              if name.startswith(PRODUCT + ".")
              for target in sorted(targets)
              if target.startswith(PRODUCT + ".") and rank(target) > rank(name)]
    assert not upward, "imports that run back up the order:\n" + "\n".join(upward)


def test_every_module_sits_in_a_package_of_the_order():
    """The product has no module outside LAYERS and TOP, and no package LAYERS does not name."""
    top_level = {path.stem if path.is_file() else path.name
                 for path in (ROOT / PRODUCT).iterdir()
                 if path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").exists())}
    assert top_level - {"__init__"} == set(LAYERS) | set(TOP)


def test_lepton_stands_alone_and_only_the_command_line_imports_the_app():
    """lepton/ (the camera) knows nothing of the daemon; only the cli imports the app."""
    graph = import_graph()
    for name, targets in graph.items():
        if name.startswith("lepton"):
            assert not {t for t in targets if t.startswith(PRODUCT)}, name
        if name != f"{PRODUCT}.cli":
            assert f"{PRODUCT}.app" not in targets, f"{name} imports the composition root"


def test_the_app_asks_sources_what_they_can_do_not_which_one_they_are():
    """app.py imports no source module but the factory: it builds the same daemon around
    every source from what the source declares (core/source.py)."""
    sources = {t for t in import_graph()[f"{PRODUCT}.app"] if t.startswith(f"{PRODUCT}.sources.")}
    assert sources == {f"{PRODUCT}.sources.factory"}  # not sources.mqtt_relay, say


def test_tests_mirror_the_packages():
    """Each unit test file tests/thermal_streamer/PKG/test_NAME.py is named after a module."""
    stray = [str(path.relative_to(ROOT))
             for path in sorted((ROOT / "tests" / PRODUCT).rglob("test_*.py"))
             if not (ROOT / PRODUCT / path.relative_to(ROOT / "tests" / PRODUCT).parent
                     / (path.name.removeprefix("test_"))).exists()]
    assert not stray, f"test files named after no module: {stray}"


def architecture_rows() -> list[str]:
    """docs/architecture.md §1's table as module paths ("core/hub.py", "app.py")."""
    rows, package = [], ""
    for line in (ROOT / "docs" / "architecture.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[1].startswith("`"):
            continue
        if cells[0]:
            package = "" if cells[0] == "(top)" else cells[0].strip("`")
        rows.append(package + cells[1].strip("`"))
    return rows


def test_architecture_table_is_the_tree():
    """docs/architecture.md has one row per module of the product, in no other order than
    the tree's packages, and no row for a module that is gone."""
    tree = sorted(str(path.relative_to(ROOT / PRODUCT)) for path in (ROOT / PRODUCT).rglob("*.py")
                  if path.name != "__init__.py")
    rows = architecture_rows()
    assert len(rows) == len(set(rows)), "a module has two rows"
    assert sorted(rows) == tree
    packages = [row.partition("/")[0] for row in rows if "/" in row]
    assert list(dict.fromkeys(packages)) == list(LAYERS), "the table's packages follow LAYERS"
