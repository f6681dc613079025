"""The package's shape: imports go one way between its subpackages, only the runner imports the
simulator, and the README's layout table names the folders that exist."""

import ast
import re

from tests.conftest import REPO

PACKAGE = REPO / "plugins" / "recipebench"

# what each subpackage may import (besides itself); everything in one direction:
# catalog <- manifests <- cluster <- pipeline <- cli, with parsers and results on the catalog only
ALLOWED = {
    "catalog": set(),
    "parsers": {"catalog"},
    "results": {"catalog"},
    "accuracy": {"catalog"},  # the accuracy gate's task, data and scoring
    "manifests": {"catalog"},
    "cluster": {"catalog", "manifests"},
    "pipeline": {"catalog", "manifests", "cluster", "parsers", "results", "accuracy"},
    "ui": {"catalog", "results", "pipeline"},  # links and the artifacts location
    "sim": {"catalog", "manifests", "cluster"},
    "cli": {"catalog", "manifests", "cluster", "pipeline", "parsers", "results", "ui", "sim", "accuracy"},
}
# top-level modules and packages, and the layer they belong to: a benchmark client and a workload
# shape are what can be run, so they sit with the catalog (the recipe schema asks them what exists)
TOP_LEVEL = {"__init__": "catalog", "__main__": "cli", "triggers": "pipeline", "clients": "catalog",
             "shapes": "catalog", "errors": "catalog"}
SIM_IMPORTERS = {"recipebench.cli.runner"}  # and the tests


def module_name(path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "catalog"  # recipebench itself
    return TOP_LEVEL.get(parts[1], parts[1])


def imports(source: str) -> set[str]:
    """Every recipebench module this source imports, at any depth (a lazy import is still a dependency)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("recipebench")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("recipebench"):
            # `from recipebench.x import y`: y is a module or a name defined in x
            found |= {f"{node.module}.{a.name}" if _is_module(node.module, a.name) else node.module for a in node.names}
    return found


def _is_module(package: str, name: str) -> bool:
    base = PACKAGE.parent.joinpath(*package.split("."))
    return (base / f"{name}.py").exists() or (base / name / "__init__.py").exists()


def violations(edges: dict[str, set[str]]) -> list[str]:
    problems = []
    for source, targets in sorted(edges.items()):
        for target in sorted(targets):
            src, dst = layer(source), layer(target)
            if src != dst and dst not in ALLOWED[src]:
                problems.append(f"{source} ({src}) imports {target} ({dst})")
            if dst == "sim" and src != "sim" and source not in SIM_IMPORTERS:
                problems.append(f"{source} imports the simulator ({target}); only {sorted(SIM_IMPORTERS)} may")
    return problems


def package_edges() -> dict[str, set[str]]:
    return {module_name(p): imports(p.read_text()) for p in PACKAGE.rglob("*.py")}


def test_imports_go_one_way():
    edges = package_edges()
    assert sum(len(t) for t in edges.values()) > 100, "the import graph looks empty: the parser is broken"
    assert {layer(m) for m in edges} <= set(ALLOWED), f"a subpackage with no rule: {sorted({layer(m) for m in edges})}"
    assert violations(edges) == []


def test_the_check_catches_a_wrong_way_import():
    """The checker itself: an upward import, a lazy one inside a function, and a simulator import are found."""
    lazy = "def f():\n    from recipebench.pipeline.artifacts import record\n"
    edges = {"recipebench.cluster.workload": imports(lazy),
             "recipebench.results.rows": {"recipebench.parsers.common"},
             "recipebench.pipeline.bodies": {"recipebench.sim.server"},
             "recipebench.cli.runner": {"recipebench.sim"}}
    found = violations(edges)
    assert any("cluster.workload (cluster) imports recipebench.pipeline.artifacts (pipeline)" in v for v in found)
    assert any("results.rows (results) imports recipebench.parsers.common (parsers)" in v for v in found)
    assert any("pipeline.bodies imports the simulator" in v for v in found)
    assert not any(v.startswith("recipebench.cli.runner") for v in found)


def test_readme_layout_table_matches_the_folders():
    readme = (REPO / "README.md").read_text()
    listed = set(re.findall(r"^\| `plugins/recipebench/(\w+)/` \|", readme, flags=re.M))
    actual = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert listed == actual, f"README lists {sorted(listed)}, the package has {sorted(actual)}"


def _shape_comparisons(source: str) -> list[str]:
    """Where code tells shapes apart by name: a comparison of something named like a shape against a
    shape's name, or a table keyed by shape names."""
    from recipebench.shapes import names

    shape_names, found = set(names()), []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            constants = {c.value for o in operands for c in ast.walk(o) if isinstance(c, ast.Constant)}
            if constants & shape_names and any("shape" in ast.unparse(o) for o in operands):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
            if len(keys & shape_names) >= 2:
                found.append(f"line {node.lineno}: a table keyed by shape names")
    return found


def test_no_module_outside_the_shapes_package_tells_shapes_apart_by_name():
    problems = [f"{p.relative_to(PACKAGE)} {where}" for p in sorted(PACKAGE.rglob("*.py"))
                if "shapes" not in p.relative_to(PACKAGE).parts for where in _shape_comparisons(p.read_text())]
    assert problems == []
    # the check itself finds both forms
    assert _shape_comparisons('if recipe.topology.shape == "offline":\n    pass\n')
    assert _shape_comparisons('T = {"single-host": 1, "multi-host": 2}\n')


def test_the_readme_lists_every_simulator_scenario():
    from recipebench.sim.kubelet import SCENARIOS

    readme = (REPO / "README.md").read_text()
    missing = [s for s in SCENARIOS if f"`{s}`" not in readme]
    assert missing == [], f"README does not name the scenario(s) {missing}"
