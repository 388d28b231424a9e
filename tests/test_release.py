"""The student release: generated from the source by nbgrader, committed, current, and free of answers."""
import pathlib
import re
import subprocess
import sys

import nbformat
import pytest

from autograder import assignment, checks, release
from autograder.assignment import SOLUTION_IDS
from autograder.course import RELEASE_NOTEBOOK, SOURCE_NOTEBOOK

REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)
TEST_IDS = tuple(assignment.tests())


def nbgrader_meta(cell):
    return cell.metadata.get("nbgrader", {})


@pytest.fixture(scope="module")
def source():
    return nbformat.read(SOURCE_NOTEBOOK, as_version=4)


@pytest.fixture(scope="module")
def student():
    return nbformat.read(RELEASE_NOTEBOOK, as_version=4)


def test_release_and_inlined_cells_are_current():
    stale = release.release(check=True)
    assert stale == [], f"run `python -m autograder release`; stale: {stale}"


def test_release_contains_no_solution_or_hidden_test_line(source):
    secret_lines, public_text = {line.strip() for line in pathlib.Path(checks.__file__).read_text().splitlines()
                                 if len(line.strip()) >= 12}, []          # the hidden checks
    for cell in source.cells:
        for _, body in REGION.findall(cell.source):
            secret_lines |= {line.strip() for line in body.splitlines() if len(line.strip()) >= 12}
        public_text.append(REGION.sub("", cell.source))
    public = "\n".join(public_text)
    secret_lines = {line for line in secret_lines if line not in public}
    released = RELEASE_NOTEBOOK.read_text()
    assert len(secret_lines) > 100, "the solutions and the hidden checks should give lines to check against"
    leaked = sorted(line for line in secret_lines if line in released or line.replace('"', '\\"') in released)
    assert leaked == [], f"the release leaks {len(leaked)} lines, e.g. {leaked[:3]}"
    assert "BEGIN SOLUTION" not in released and "HIDDEN TESTS" not in released


def test_every_part_has_its_solution_cell_and_tests(source, student):
    for notebook in (source, student):
        solution_ids = [nbgrader_meta(c).get("grade_id") for c in notebook.cells if nbgrader_meta(c).get("solution")]
        test_ids = [nbgrader_meta(c).get("grade_id") for c in notebook.cells if nbgrader_meta(c).get("grade")]
        assert tuple(solution_ids) == SOLUTION_IDS and tuple(test_ids) == TEST_IDS
    points = sum(nbgrader_meta(c)["points"] for c in student.cells if nbgrader_meta(c).get("grade"))
    assert points == 100
    stubs = [c for c in student.cells if nbgrader_meta(c).get("solution")]
    assert all("raise NotImplementedError()" in c.source for c in stubs)


def test_cell_ids_are_stable_and_readable(source, student):
    assert [c.id for c in student.cells] == [c.id for c in source.cells]
    assert len({c.id for c in source.cells}) == len(source.cells)
    assert all(re.fullmatch(r"[a-z0-9-]+", c.id) for c in source.cells)


def test_release_is_colab_ready(student):
    assert student.metadata["accelerator"] == "GPU" and "colab" in student.metadata
    code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    assert not re.search(r"^\s*(from|import) (data|lesson|solutions|autograder)\b", code, re.M), \
        "the release must not import the repository's packages: Colab has only the notebook"
    assert "../" not in code and "/work/" not in code
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in student.cells if c.cell_type == "code")


def nbgrader_validate(*args):
    result = subprocess.run([sys.executable, "-m", "nbgrader", "validate", *args], capture_output=True, text=True)
    return result.stdout + result.stderr


def test_nbgrader_validate_invert_release_passes_no_test(tmp_path, monkeypatch, data_env):
    monkeypatch.chdir(tmp_path)
    for name, value in data_env.items():
        monkeypatch.setenv(name, value)
    output = nbgrader_validate("--invert", str(RELEASE_NOTEBOOK))
    assert "Success! The notebook does not pass any tests." in output, output
