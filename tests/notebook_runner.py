"""Execute a notebook in a real Jupyter kernel (nbclient) and report each code cell's outcome."""
import json
import os

import nbformat
from nbclient import NotebookClient

from lesson.config import SHORT_RUN, environment_for

SHORT_RUN_ENV = environment_for(SHORT_RUN)


def execute(path, workdir, env, extra_cells=(), timeout=600):
    """Run every cell of the notebook at `path` in `workdir` with `env` added to the environment.

    Errors do not stop the run: each cell's error, if any, is in its outputs. `extra_cells` are code
    appended at the end (e.g. to print results as JSON). Returns the executed notebook.
    """
    notebook = nbformat.read(path, as_version=4)
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in extra_cells]
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(workdir)}})
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return notebook


def cell_error(cell):
    """(ename, evalue) of the cell's error output, or None."""
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            return output.ename, output.evalue
    return None


def stdout(cell):
    return "".join(output.get("text", "") for output in cell.get("outputs", []) if output.output_type == "stream")


def last_json(cell):
    """The JSON object printed last by a cell."""
    return json.loads(stdout(cell).strip().splitlines()[-1])


def grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def is_graded_test(cell):
    return bool(cell.metadata.get("nbgrader", {}).get("grade"))
