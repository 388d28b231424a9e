"""Execute a notebook in a real Jupyter kernel (nbclient) and report each code cell's outcome; find the data."""

import json
import os
import pathlib

import nbformat
from nbclient import NotebookClient

from data.isbi2012 import VOLUMES
from data.synthetic import MANIFEST, with_stand_in
from lesson.config import SHORT_RUN, environment_for

SHORT_RUN_ENV = environment_for(SHORT_RUN)
REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
# Read once at start-up: some tests unset UNET_DATA_DIR to exercise the download path.
DATA_DIR_AT_START = os.environ.get("UNET_DATA_DIR")


# "synthetic": the tests use the stand-in even where the real data is found (tests/conftest.py).
TEST_DATA_ENV = "UNET_TEST_DATA"
TEST_DATA = os.environ.get(TEST_DATA_ENV, "")


def find_real_data_dir():
    """The real ISBI 2012 folder (UNET_DATA_DIR, else ../shared/data/isbi2012 beside the repo), or None; always
    None with UNET_TEST_DATA=synthetic."""
    if TEST_DATA == "synthetic":
        return None
    candidates = [DATA_DIR_AT_START] if DATA_DIR_AT_START else []
    candidates.append(REPO_ROOT / ".." / "shared" / "data" / "isbi2012")
    for folder in map(lambda path: pathlib.Path(path).resolve(), candidates):
        if all((folder / f"{name}.tif").is_file() for name in VOLUMES) and not (folder / MANIFEST).exists():
            return folder
    return None


def is_stand_in(env):
    """True when `env` points the notebook at a synthetic stand-in (a data folder with synthetic.json)."""
    return bool(env.get("UNET_DATA_DIR")) and (pathlib.Path(env["UNET_DATA_DIR"]) / MANIFEST).is_file()


def runnable_copy(path, env, folder):
    """The notebook at `path`, or, when `env` points at the synthetic stand-in, a copy in `folder` that accepts it
    (``data.synthetic.with_stand_in``): the notebook's own loader knows only the real data."""
    if not is_stand_in(env):
        return pathlib.Path(path)
    copy = pathlib.Path(folder) / pathlib.Path(path).name
    nbformat.write(with_stand_in(nbformat.read(path, as_version=4)), copy)
    return copy


def execute(path, workdir, env, extra_cells=(), timeout=600, kernel_manager=None):
    """Run every cell of the notebook at `path` (or an nbformat notebook) in `workdir` with `env` added to the
    environment (a value of None removes that variable).

    Errors do not stop the run: each cell's error, if any, is in its outputs. `extra_cells` are code
    appended at the end (e.g. to print results as JSON). On the synthetic stand-in, the cell that accepts it is added
    after the notebook's loader (``runnable_copy``). The kernel is the project's python3, or `kernel_manager`'s.
    Returns the executed notebook.
    """
    notebook = nbformat.read(path, as_version=4) if isinstance(path, (str, os.PathLike)) else path
    if is_stand_in(env):
        with_stand_in(notebook)
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in extra_cells]
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(workdir)}},
        km=kernel_manager,
    )
    saved = dict(os.environ)
    os.environ.update({name: value for name, value in env.items() if value is not None})
    for name in [name for name, value in env.items() if value is None]:
        os.environ.pop(name, None)
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
