"""The notebooks executed in a real Jupyter kernel: the source end to end, the release failing only where
students have work to do, and nbgrader's own validation of the source."""

import ast
import subprocess
import sys

import pytest

from autograder.release.course import RELEASE_NOTEBOOK, SOURCE_NOTEBOOK
from tests.notebook_runner import SHORT_RUN_ENV, cell_error, execute, grade_id, is_graded_test, last_json, runnable_copy

pytestmark = [pytest.mark.slow, pytest.mark.stand_in_ci]  # CI runs them in the newcomer's clone

REPORT_SCORES = """
import json
steps_per_epoch = -(-len(fit_images) // config.batch_size)
print(json.dumps({"model": scores, "all_interior": baseline, "steps": len(losses),
                  "epoch_losses": [float(np.mean(losses[:steps_per_epoch])), float(np.mean(losses[-steps_per_epoch:]))]}))
"""


@pytest.fixture(scope="module")
def short_run(data_env, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("source-run")
    env = {**SHORT_RUN_ENV, **data_env, "UNET_CHECKPOINT_DIR": str(workdir / "checkpoints")}
    return execute(SOURCE_NOTEBOOK, workdir, env, extra_cells=[REPORT_SCORES]), workdir


def test_source_runs_top_to_bottom_without_errors(short_run):
    notebook, workdir = short_run
    errors = {cell.id: cell_error(cell) for cell in notebook.cells if cell_error(cell)}
    assert errors == {}
    assert (workdir / "test-volume-membrane-probability.tif").is_file()
    assert list((workdir / "checkpoints").glob("*.pt")), "the training cell should leave a checkpoint"


def test_short_run_learns_and_beats_all_interior(short_run):
    notebook, _ = short_run
    result = last_json(notebook.cells[-1])
    model, trivial = result["model"], result["all_interior"]
    print(f"held-out: U-Net {model}; all-interior {trivial}")
    first_epoch, last_epoch = result["epoch_losses"]
    assert last_epoch < 0.8 * first_epoch, (
        f"the mean loss per epoch should fall: first {first_epoch}, last {last_epoch}"
    )
    assert model["pixel_accuracy"] > trivial["pixel_accuracy"] + 0.03
    assert model["v_rand"] > trivial["v_rand"] + 0.3 and model["v_info"] > trivial["v_info"] + 0.3


def test_release_fails_only_on_not_implemented_error(data_env, tmp_path):
    notebook = execute(RELEASE_NOTEBOOK, tmp_path, {**SHORT_RUN_ENV, **data_env, "UNET_CHECKPOINT_DIR": str(tmp_path)})
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    unset = set()  # names that cells stopped by NotImplementedError never got to assign
    other_errors = {}
    for cell in code_cells:
        error = cell_error(cell)
        if not error:
            continue
        if error[0] == "NotImplementedError" or (error[0] == "NameError" and error[1].split("'")[1] in unset):
            unset |= assigned_names(cell.source)
        else:
            other_errors[cell.id] = error
    assert other_errors == {}, (
        "only the parts students write may fail, with NotImplementedError (or later, for want of their results)"
    )
    assert unset >= {"model", "losses"}, "the training cell should stop on the unimplemented UNet"
    passing_tests = [grade_id(cell) for cell in code_cells if is_graded_test(cell) and not cell_error(cell)]
    assert passing_tests == [], "every graded test must fail on the unsolved release"
    working = {
        "setup",
        "config",
        "load-data",
        "show-data",
        "data-module",
        "speed-module",
        "training-module",
        "metrics-module",
    }
    assert not [cell.id for cell in code_cells if cell.id in working and cell_error(cell)]


def assigned_names(source):
    """Top-level names a cell assigns: `model = ...`, `a, b = ...`."""
    targets = [t for node in ast.parse(source).body if isinstance(node, ast.Assign) for t in node.targets]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def test_nbgrader_validate_passes_on_the_source(data_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # One epoch, so the grader's smoke mode: its training test checks only that training ran.
    for name, value in {
        **SHORT_RUN_ENV,
        **data_env,
        "UNET_EPOCHS": "1",
        "UNET_CHECKPOINT_DIR": str(tmp_path),
        "UNET_GRADING_MODE": "smoke",
    }.items():
        monkeypatch.setenv(name, value)
    notebook = runnable_copy(SOURCE_NOTEBOOK, data_env, tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "validate", str(notebook)], capture_output=True, text=True
    )
    assert "Success! Your notebook passes all the tests." in result.stdout, result.stdout + result.stderr
