"""The Gradescope bundle end to end: `python -m autograder gradescope` writes it, a temporary folder stands for
/autograder (AUTOGRADER_ROOT), and run_autograder grades a correct and a broken submission there; each
results.json is checked against the schema written from Gradescope's specification
(autograder/integrations/gradescope.py: SCHEMA). Smoke mode: about a minute on 2 cores."""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import jsonschema
import pytest

from autograder import assignment
from autograder.integrations import gradescope
from tests import recipes
from tests.catalogue import expected_scores, named, write

POINTS = assignment.points()
CORRECT, BROKEN = named("reference"), named("avgpool+nearest_upsample")


def test_schema_refuses_what_gradescope_would_refuse():
    good = {"score": 1.0, "tests": [{"name": "a", "score": 1, "max_score": 1, "visibility": "after_due_date"}]}
    gradescope.validate(good)
    for bad in (
        {"tests": [{"name": "a", "max_score": 1}]},  # no score anywhere
        {"score": "1"},  # not a number
        {"score": 1, "visibility": "sometimes"},  # no such visibility
        {"score": 1, "tests": [{"name": "a", "score": 1}]},
    ):  # a test without max_score
        with pytest.raises(jsonschema.ValidationError):
            gradescope.validate(bad)


def test_a_located_description_is_not_called_a_known_mistake(tmp_path):
    """mistakes.csv's kinds reach results.json in their own words: a known mistake named, a located one located."""
    crop_ids = [test.grade_id for test in assignment.PARTS[0].tests]
    scores = {grade_id: 0 if grade_id in crop_ids else points for grade_id, points in POINTS.items()}
    header = ["student", *POINTS, "total", "max_total", "mode", "status"]
    row = ["ann", *map(str, scores.values()), str(sum(scores.values())), str(sum(POINTS.values())), "quick", "ok"]
    (tmp_path / "grades.csv").write_text(",".join(header) + "\n" + ",".join(row) + "\n")
    part = assignment.PARTS[0].name
    (tmp_path / "mistakes.csv").write_text(
        "student,part,mistake,kind\n"
        f"ann,{part},height and width swapped,named\n"
        f"ann,{part},window off by one row,located\n"
    )
    results = gradescope.results_from(tmp_path, "ann")
    gradescope.validate(results)
    output = next(test["output"] for test in results["tests"] if test["name"] == crop_ids[0])
    assert "Your results match a known mistake: height and width swapped" in output, output
    assert "Where it goes wrong: window off by one row" in output, output
    assert "known mistake: height and width swapped; window" not in output, output


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, real_data_dir):
    """The bundle, made by the recipe of docs/platforms.md as written (in a folder of its own, in smoke mode, the
    training test's result held back), carrying the real data where this machine has it verified (UNET_DATA_DIR),
    else none."""
    folder = tmp_path_factory.mktemp("bundle")
    env = {"UNET_DATA_DIR": str(real_data_dir) if real_data_dir else None}
    made = recipes.run(
        recipes.recipe("gradescope"),
        folder / "home",
        cwd=folder,
        env=env,
        timeout=300,
        appended={"unet-course gradescope": "--mode smoke --training-visibility after_due_date"},
    )
    assert made.returncode == 0, made.stdout + made.stderr
    assert recipes.warnings_in(made) == []
    return folder / "autograder.zip"


def test_bundle_carries_the_verified_data_or_says_setup_downloads_it(bundle, real_data_dir):
    with zipfile.ZipFile(bundle) as archive:
        carried = sorted(name for name in archive.namelist() if name.startswith("isbi2012/"))
    expected = ["isbi2012/test-volume.tif", "isbi2012/train-labels.tif", "isbi2012/train-volume.tif"]
    assert carried == (expected if real_data_dir else [])


def test_bundle_scripts_are_valid_bash(bundle, tmp_path):
    with zipfile.ZipFile(bundle) as archive:
        for script in ("setup.sh", "run_autograder"):
            (tmp_path / script).write_bytes(archive.read(script))
            checked = subprocess.run(["bash", "-n", str(tmp_path / script)], capture_output=True, text=True)
            assert checked.returncode == 0, checked.stderr


def test_bundle_has_gradescopes_two_scripts_at_its_root_executable(bundle):
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        for script in ("setup.sh", "run_autograder"):
            assert script in names
            assert (archive.getinfo(script).external_attr >> 16) & 0o111
        assert "autograder/integrations/gradescope.py" in names and "requirements.txt" in names
        assert json.loads(archive.read("settings.json")) == {"mode": "smoke", "training_visibility": "after_due_date"}


def unpack(bundle, root):
    """What Gradescope does with the zip: its files in ROOT/source, run_autograder copied to ROOT."""
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    shutil.copyfile(root / "source" / "run_autograder", root / "run_autograder")
    os.chmod(root / "run_autograder", 0o755)
    (root / "submission").mkdir()


@pytest.mark.slow
@pytest.mark.parametrize("variant", [CORRECT, BROKEN], ids=["correct", "broken"])
def test_run_autograder_writes_results_json_per_the_specification(bundle, variant, tmp_path, data_env):
    root = tmp_path / "autograder"
    unpack(bundle, root)
    write(variant, root / "submission")
    env = {**os.environ, **data_env, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    set_up = subprocess.run(
        [sys.executable, "-m", "autograder.integrations.gradescope", "setup"],
        cwd=root / "source",
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )  # what setup.sh ends with
    assert set_up.returncode == 0, set_up.stdout[-3000:] + set_up.stderr[-3000:]
    made = (root / "source" / gradescope.TEMPLATE_FOLDER / "template-key.json").stat().st_mtime_ns
    ran = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert (root / "source" / gradescope.TEMPLATE_FOLDER / "template-key.json").stat().st_mtime_ns == made, (
        "run_autograder grades on the template setup.sh made"
    )
    results = json.loads((root / "results" / "results.json").read_text())
    gradescope.validate(results)
    expected = expected_scores(variant, POINTS)
    assert {test["name"]: test["score"] for test in results["tests"]} == pytest.approx(expected)
    assert results["score"] == pytest.approx(sum(expected.values()))
    assert [test["name"] for test in results["tests"]] == list(POINTS)
    by_name = {test["name"]: test for test in results["tests"]}
    assert by_name["test_training"]["visibility"] == "after_due_date"
    assert "no GPU" in results["output"] and "smoke mode" in results["output"]
    assert all(test["output"].startswith("What it checks: ") for test in results["tests"])
    if variant is BROKEN:
        layers = by_name["test_contracting_block_layers"]
        assert layers["status"] == "failed" and "average pooling" in layers["output"]
        assert by_name["test_crop_shape"]["status"] == "passed"
