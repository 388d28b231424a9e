"""The reference solution, loaded from the source notebook itself (the notebook stays the one source).

The solution cells are the notebook's own: every cell whose nbgrader metadata marks it a solution, by its
grade_id. Nothing here imports the grader (``autograder/``): the grader reads the authored source, never the
other way round (``tests/test_assignment.py`` checks that these cells are the parts ``autograder/assignment.py``
declares).

    from solutions.reference import load_reference
    ref = load_reference()
    model = ref.UNet(1, 1, hidden_channels=16)
"""

import pathlib
import types

import nbformat

SOURCE_NOTEBOOK = pathlib.Path(__file__).with_name("UNet_Assignment.ipynb")
PRELUDE = "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n"


def solution_cells(notebook):
    """The source of each solution cell (nbgrader's ``solution: true``), by grade_id, in notebook order."""
    cells = {}
    for cell in notebook.cells:
        nbgrader = cell.metadata.get("nbgrader", {})
        if nbgrader.get("solution"):
            if not nbgrader.get("grade_id"):
                raise ValueError(f"a solution cell of {SOURCE_NOTEBOOK.name} has no grade_id: {cell.source[:60]!r}")
            cells[nbgrader["grade_id"]] = cell.source
    if not cells:
        raise ValueError(f"{SOURCE_NOTEBOOK.name} has no solution cell (nbgrader metadata 'solution': true)")
    return cells


def load_reference(notebook_path=SOURCE_NOTEBOOK):
    """A module holding crop, ContractingBlock, ExpandingBlock, FeatureMapBlock and UNet as the source defines them."""
    notebook = nbformat.read(notebook_path, as_version=4)
    module = types.ModuleType("unet_reference")
    module.__file__ = str(notebook_path)
    code = PRELUDE + "\n\n".join(solution_cells(notebook).values())
    exec(compile(code, str(notebook_path), "exec"), module.__dict__)
    return module
