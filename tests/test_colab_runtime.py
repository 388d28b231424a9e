"""The student's release as it runs in Colab: in a Python with only what a Colab GPU runtime preinstalls
(tests/colab_runtime.py), from a folder outside the repository, with the reference solutions filled in, top to
bottom on CPU with the short-run settings, its data downloaded through the notebook's own loader from local copies
of the mirrors (tests/mirrors.py). A failure here is a defect of the notebook: it needs something Colab lacks.

With the real data the mirrors serve it; without, they serve the synthetic stand-in, and the notebook gets the cell
that accepts the stand-in (data.synthetic.with_stand_in) naming its synthetic.json.
"""

import os
from pathlib import Path

import pytest

from data.isbi2012 import MIRRORS
from data.synthetic import MANIFEST, with_stand_in
from tests.catalogue import fill
from tests.colab_runtime import colab_python, kernel_manager
from tests.mirrors import MirrorServer, build_mirrors, mirror_path
from tests.notebook_runner import SHORT_RUN_ENV, cell_error, execute, last_json

pytestmark = pytest.mark.slow

# Packages of this project and of its tools, none of which Colab has: the notebook must need none of them.
NOT_ON_COLAB = ("data", "lesson", "autograder", "solutions", "tests", "nbgrader", "nbclient", "dask", "distributed")

# The short run's settings, trained for 2 epochs: what is tested here is the runtime, not what training learns
# (tests/test_notebooks.py and the grading batches test that).
RUNTIME_ONLY = {"UNET_EPOCHS": "2", "UNET_CHECKPOINT_EVERY": "1"}

REPORT = f"""
import importlib.util, json, sys
print(json.dumps({{"python": sys.executable, "found": [name for name in {NOT_ON_COLAB!r}
                                                       if importlib.util.find_spec(name) is not None],
                  "model": scores}}))
"""


@pytest.fixture(scope="module")
def colab_run(data_env, tmp_path_factory):
    try:
        python, build_seconds = colab_python()
    except RuntimeError as error:  # pip could not build it: no registry here (CI fails instead)
        if os.environ.get("UNET_REQUIRE_COLAB_RUNTIME") == "1":
            pytest.fail(f"{error} (UNET_REQUIRE_COLAB_RUNTIME=1)")
        pytest.skip(f"the Colab-like runtime cannot be built here: {error}")
    print(
        f"Colab-like runtime {python.parent.parent}: built in {build_seconds:.0f} s"
        if build_seconds
        else f"Colab-like runtime {python.parent.parent}: reused"
    )
    source = Path(data_env["UNET_DATA_DIR"])
    workdir = tmp_path_factory.mktemp("colab-content")  # Colab's /content: outside the repository
    notebook = fill()
    if (source / MANIFEST).is_file():
        with_stand_in(notebook, manifest=source / MANIFEST)
    root = build_mirrors(source, tmp_path_factory.mktemp("mirrors"))
    with MirrorServer(root) as server:
        env = {
            **SHORT_RUN_ENV,
            **RUNTIME_ONLY,
            **server.environment(),
            "UNET_DATA_DIR": None,
            "UNET_CHECKPOINT_DIR": None,
            "PYTHONPATH": None,
            "XDG_CACHE_HOME": str(tmp_path_factory.mktemp("colab-cache")),
        }
        executed = execute(
            notebook,
            workdir,
            env,
            extra_cells=[REPORT],
            kernel_manager=kernel_manager(python, tmp_path_factory.mktemp("kernels")),
        )
    return {"notebook": executed, "workdir": workdir, "python": python, "requests": list(server.requests)}


def test_the_release_runs_top_to_bottom_in_a_colab_like_runtime(colab_run):
    errors = {cell.get("id"): cell_error(cell) for cell in colab_run["notebook"].cells if cell_error(cell)}
    assert errors == {}
    report = last_json(colab_run["notebook"].cells[-1])
    assert Path(report["python"]).parent.parent == colab_run["python"].parent.parent, report["python"]
    assert report["found"] == [], f"importable in the Colab-like runtime, which it must not be: {report['found']}"
    assert set(report["model"]) >= {"pixel_accuracy", "dice", "v_rand", "v_info"}, report["model"]


def test_it_downloads_the_data_once_and_writes_only_beside_itself(colab_run):
    assert colab_run["requests"] == [mirror_path(MIRRORS[0])], "the first mirror's zip, once for the three volumes"
    workdir = colab_run["workdir"]
    assert (workdir / "test-volume-membrane-probability.tif").is_file()
    assert list((workdir / "checkpoints").glob("*.pt")), "checkpoints go to ./checkpoints without Google Drive"
