"""The reference solution, loaded from the source notebook itself (the notebook stays the one source).

    from solutions.reference import load_reference
    ref = load_reference()
    model = ref.UNet(1, 1, hidden_channels=16)
"""
import pathlib
import types

import nbformat

from autograder.assignment import SOLUTION_IDS

SOURCE_NOTEBOOK = pathlib.Path(__file__).with_name("UNet_Assignment.ipynb")
PRELUDE = "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n"


def solution_cells(notebook):
    """The source of each graded solution cell, by grade_id, in notebook order."""
    cells = {}
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in SOLUTION_IDS:
            cells[grade_id] = cell.source
    missing = set(SOLUTION_IDS) - set(cells)
    if missing:
        raise ValueError(f"{SOURCE_NOTEBOOK.name} has no solution cell with grade_id {sorted(missing)}")
    return cells


def load_reference(notebook_path=SOURCE_NOTEBOOK):
    """A module holding crop, ContractingBlock, ExpandingBlock, FeatureMapBlock and UNet as the source defines them."""
    notebook = nbformat.read(notebook_path, as_version=4)
    module = types.ModuleType("unet_reference")
    module.__file__ = str(notebook_path)
    code = PRELUDE + "\n\n".join(solution_cells(notebook).values())
    exec(compile(code, str(notebook_path), "exec"), module.__dict__)
    return module
