"""The assignment's one declaration (autograder/assignment.py) agrees with the source notebook and the docs."""

import nbformat
import pytest

from autograder import assignment
from autograder.release import generate as release
from autograder.release.course import RELEASE_NOTEBOOK, REPO_ROOT, SOURCE_NOTEBOOK
from solutions.reference import solution_cells


def graded_cells(path):
    """[(grade_id, points)] of the graded test cells and [grade_id] of the solution cells, in notebook order."""
    notebook = nbformat.read(path, as_version=4)
    meta = [cell.metadata.get("nbgrader", {}) for cell in notebook.cells]
    return (
        [(m["grade_id"], m["points"]) for m in meta if m.get("grade")],
        [m["grade_id"] for m in meta if m.get("solution")],
    )


@pytest.mark.parametrize("path", [SOURCE_NOTEBOOK, RELEASE_NOTEBOOK], ids=["source", "release"])
def test_the_notebook_has_the_declared_tests_points_and_solution_cells_in_order(path):
    tests, solutions = graded_cells(path)
    assert tests == list(assignment.points().items())
    assert tuple(solutions) == assignment.SOLUTION_IDS


def test_the_reference_loader_finds_the_declared_solution_cells_from_the_notebook_alone():
    """solutions/reference.py reads the solution cells from the notebook's metadata, without the declaration."""
    cells = solution_cells(nbformat.read(SOURCE_NOTEBOOK, as_version=4))
    assert tuple(cells) == assignment.SOLUTION_IDS
    assert all(f"{part.name}" in cells[part.solution_id] for part in assignment.PARTS)


def test_each_part_comes_before_the_parts_that_depend_on_it():
    names = [part.name for part in assignment.PARTS]
    for part in assignment.PARTS:
        assert all(names.index(dependency) < names.index(part.name) for dependency in part.depends_on), part.name


def test_the_points_add_up_to_100_and_every_grade_id_is_unique():
    points = assignment.points()
    assert sum(points.values()) == 100 and len(points) == len(assignment.PART_TESTS) + 1


def test_the_docs_parts_table_is_the_declarations():
    page = (REPO_ROOT / "docs" / "instructors.md").read_text()
    assert assignment.markdown_table() in page, "run `unet-course release` to rewrite docs/instructors.md's parts table"
    assert release.sync_parts_table(check=True) == []
