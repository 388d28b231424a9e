"""The house's layers: no module imports from a layer above its own, and no modules import each other in a circle.

The layer order is the one written in the package docstring of ``autograder/__init__.py`` (its LAYER ORDER
block, lowest first; names on one line share a layer), so the docstring is the one declaration of it. Every
import counts: at the top of a module, inside a function (a lazy import), under ``TYPE_CHECKING``, and
``importlib.import_module`` or ``importlib.util.find_spec`` of a literal name (or of a module-level constant
that holds one, as ``assignment.CHECKS``).
"""

from __future__ import annotations

import ast
import graphlib
import pathlib

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("autograder", "lesson", "data", "solutions")  # the project's packages that have layers
PROJECT = {path.name for path in REPO_ROOT.iterdir() if (path / "__init__.py").exists()}  # tests, benchmarks too


def layer_order(root: pathlib.Path) -> list[tuple[str, ...]]:
    """The LAYER ORDER of root/autograder/__init__.py's docstring: one tuple of names per layer, lowest first."""
    docstring = ast.get_docstring(ast.parse((root / "autograder" / "__init__.py").read_text(encoding="utf-8")))
    head, found, block = (docstring or "").partition("LAYER ORDER")
    assert found, "autograder/__init__.py's docstring has no LAYER ORDER block"
    layers = []
    for line in block.splitlines()[1:]:
        if not line.strip():
            break
        layers.append(tuple(line.split()))
    assert layers, "the LAYER ORDER block of autograder/__init__.py lists no layers"
    return layers


def module_name(root: pathlib.Path, path: pathlib.Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: pathlib.Path, packages=PACKAGES) -> dict[str, pathlib.Path]:
    """{dotted name: file} of every module of the layered packages."""
    return {module_name(root, path): path for package in packages for path in sorted((root / package).rglob("*.py"))}


def imported_names(path: pathlib.Path, name: str) -> set[str]:
    """Every dotted name `path`'s module imports, wherever the import statement is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }  # CHECKS = "autograder...."
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from ..y import z
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # a submodule, or a name in `base`
        elif (
            isinstance(node, ast.Call)
            and node.args
            and getattr(node.func, "attr", getattr(node.func, "id", "")) in {"import_module", "find_spec"}
        ):
            argument = node.args[0]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                found.add(argument.value)
            elif isinstance(argument, ast.Name) and argument.id in constants:
                found.add(constants[argument.id])
    return found


def import_graph(root: pathlib.Path) -> dict[str, set[str]]:
    """{module: the project modules it imports} for every module of the layered packages."""
    known = modules(root)
    graph = {}
    for name, path in known.items():
        targets = set()
        for imported in imported_names(path, name):
            if imported.split(".")[0] not in PROJECT:
                continue
            # the longest prefix that is a module: `from autograder.grading import grade` is autograder.grading.grade,
            # `from autograder.reports.result import Result` is autograder.reports.result
            parts = imported.split(".")
            target = next(
                (".".join(parts[:n]) for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in known), imported
            )
            if target != name and not name.startswith(target + "."):  # not itself, nor its own package
                targets.add(target)
        graph[name] = targets
    return graph


def layer_of(name: str, layers: list[tuple[str, ...]]) -> int | None:
    """The index of the layer whose name is `name` or the longest prefix of it; None when no layer holds it."""
    best = None
    for index, layer in enumerate(layers):
        for entry in layer:
            if name == entry or name.startswith(entry + "."):
                if best is None or len(entry) > best[1]:
                    best = (index, len(entry))
    return best[0] if best else None


def upward_imports(root: pathlib.Path) -> list[str]:
    """Every import from a lower layer into a higher one (or into a module no layer holds), in words."""
    layers = layer_order(root)
    problems = []
    for name, targets in sorted(import_graph(root).items()):
        source_layer = layer_of(name, layers)
        for target in sorted(targets):
            target_layer = layer_of(target, layers)
            if source_layer is None or target_layer is None:
                unplaced = name if source_layer is None else target
                problems.append(f"{name} imports {target}, but no layer of the LAYER ORDER holds {unplaced}")
            elif target_layer > source_layer:
                problems.append(
                    f"{name} (layer {' '.join(layers[source_layer])}) imports {target}, "
                    f"a higher layer ({' '.join(layers[target_layer])})"
                )
    return problems


def circle(root: pathlib.Path) -> list[str] | None:
    """One circle of modules importing each other (the first module again at its end), or None."""
    try:
        tuple(graphlib.TopologicalSorter(import_graph(root)).static_order())
    except graphlib.CycleError as error:
        return list(error.args[1])
    return None


def test_no_module_imports_from_a_higher_layer():
    assert upward_imports(REPO_ROOT) == []


def test_no_modules_import_each_other_in_a_circle():
    assert circle(REPO_ROOT) is None


def test_every_stage_folder_is_a_layer_and_says_what_it_does():
    layers = layer_order(REPO_ROOT)
    for folder in sorted(path for path in (REPO_ROOT / "autograder").iterdir() if (path / "__init__.py").exists()):
        assert layer_of(f"autograder.{folder.name}", layers) is not None, folder.name
        docstring = ast.get_docstring(ast.parse((folder / "__init__.py").read_text(encoding="utf-8")))
        assert docstring and "In:" in docstring and "Out:" in docstring and "Next:" in docstring, folder.name


def _scratch_house(root: pathlib.Path, modules_: dict[str, str]) -> pathlib.Path:
    """A small tree with the real LAYER ORDER and the given modules ({relative path: code})."""
    for package in PACKAGES:
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
    (root / "autograder" / "__init__.py").write_text((REPO_ROOT / "autograder" / "__init__.py").read_text())
    for relative, code in modules_.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).parent.joinpath("__init__.py").touch()
        (root / relative).write_text(code)
    return root


@pytest.mark.parametrize(
    "code",
    [
        "from autograder.grading import grade\n",
        "def lazy():\n    from autograder.grading.grade import Session\n",
        "import importlib\nimportlib.import_module('autograder.grading.grade')\n",
    ],
    ids=["top", "lazy", "import_module"],
)
def test_the_check_finds_an_upward_import(tmp_path, code):
    root = _scratch_house(tmp_path, {"autograder/grading/grade.py": "", "autograder/reports/report.py": code})
    assert upward_imports(root) == [
        "autograder.reports.report (layer autograder.reports) imports "
        "autograder.grading.grade, a higher layer (autograder.grading)"
    ]
    root = _scratch_house(
        tmp_path / "outside",
        {
            "lesson/config.py": "",
            "data/isbi2012.py": code.replace("autograder.grading.grade", "lesson.config")
            .replace("autograder.grading", "lesson")
            .replace("import grade", "import config"),
        },
    )
    assert upward_imports(root) == ["data.isbi2012 (layer data) imports lesson.config, a higher layer (lesson)"]


def test_the_check_finds_a_circle_and_a_module_outside_the_layers(tmp_path):
    root = _scratch_house(
        tmp_path,
        {
            "autograder/reports/result.py": "from autograder.reports import report\n",
            "autograder/reports/report.py": "from autograder.reports.result import Result\n",
            "autograder/newstage/thing.py": "from autograder import assignment\n",
            "autograder/assignment.py": "",
        },
    )
    assert set(circle(root) or ()) == {"autograder.reports.result", "autograder.reports.report"}
    assert any("no layer of the LAYER ORDER holds autograder.newstage.thing" in line for line in upward_imports(root))


def test_no_module_of_the_kit_imports_the_test_stand_in():
    """The synthetic stand-in (data/synthetic.py) is the tests': the tools read the real data's loader, or the one
    UNET_DATA_LOADER names (data/source.py), which the tests set."""
    importers = sorted(
        name
        for name, targets in import_graph(REPO_ROOT).items()
        if "data.synthetic" in targets and name != "data.synthetic"
    )
    assert importers == []
