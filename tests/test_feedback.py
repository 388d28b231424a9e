"""The report a student reads and the class view (autograder/reports/feedback.py, autograder/reports/report.py), without a kernel."""
import base64
import csv
import io
import os

import nbformat
import pytest

from autograder import assignment
from autograder.reports import report
from autograder.reports.feedback import LeaveOutCarriedCode, ShrinkFigures, carried_cells, name_test_links, score_table
from autograder.grading.plugins import CHECK_FAILED, CHECK_PREAMBLE, error_output
from autograder.reports.result import Result
from tests.catalogue import fill


def graded(**failures):
    """The filled release as if autograded: each test named in `failures` failed with that message."""
    notebook = fill()
    for cell in notebook.cells:
        message = failures.get(cell.metadata.get("nbgrader", {}).get("grade_id"))
        if message:
            cell.outputs = [error_output("AssertionError", "visible assert"), error_output(CHECK_FAILED, CHECK_PREAMBLE + message)]
    return notebook


def test_the_score_table_has_each_part_and_each_test_with_its_messages():
    points = assignment.points()
    scores = {**points, "test_crop_centre": 0}
    table = score_table(graded(test_crop_centre="a different window. Your part's results match a known mistake: X"), scores)
    assert "Part: crop(image, new_shape)</th><th style" in table and ">4 / 10</th>" in table
    assert "<code>test_crop_centre</code>: <b>failed</b><br>visible assert<br>Hidden tests: a different window." in table
    assert "<code>test_crop_shape</code>: <b>passed</b></td><td style" in table and ">4 / 4</td>" in table
    assert table.count("<b>passed</b>") == len(points) - 1 and ">15 / 15</th>" in table
    assert CHECK_PREAMBLE not in table


def test_the_carried_modules_are_left_out_and_the_students_cells_kept():
    notebook = fill()
    carried = carried_cells(notebook)
    assert carried == ["config_module", "data_module", "selfcheck_module", "speed_module", "training_module", "metrics_module"]
    LeaveOutCarriedCode(carried=carried).preprocess(notebook, {})
    sources = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell.source for cell in notebook.cells}
    assert all(sources[grade_id].startswith("# The course's own code") for grade_id in carried)
    assert "def crop(image, new_shape):" in sources["crop"]


def test_figures_are_shrunk_to_small_jpegs():
    from PIL import Image
    buffer = io.BytesIO()
    Image.effect_noise((1500, 500), 64).convert("RGB").save(buffer, format="PNG")
    png = base64.b64encode(buffer.getvalue()).decode()
    cell = nbformat.v4.new_code_cell("plt.show()", outputs=[nbformat.v4.new_output("display_data", data={"image/png": png})])
    notebook = nbformat.v4.new_notebook(cells=[cell])
    ShrinkFigures().preprocess(notebook, {})
    data = notebook.cells[0].outputs[0]["data"]
    assert "image/png" not in data and len(data["image/jpeg"]) < len(png) / 4
    assert Image.open(io.BytesIO(base64.b64decode(data["image/jpeg"]))).size == (640, 213)


def results():
    points = assignment.points()
    return [Result("ann", dict(points), dict(points), "quick", "ok"),
            Result("bob", {**points, "test_crop_centre": 0, "test_training": 0}, dict(points), "quick", "ok",
                   mistakes=[("test_crop_centre", "the top-left corner instead of the centre", "named"),
                             ("test_crop_shape", "the top-left corner instead of the centre", "named"),
                             ("test_crop_centre", "window off by one row", "located")]),
            Result("cy", {}, dict(points), "quick", "invalid JSON")]


def test_mistakes_csv_lists_each_mistake_once_per_part_and_student(tmp_path):
    report.write_batch(tmp_path, results(), list(assignment.points()))
    rows = list(csv.DictReader(open(tmp_path / "mistakes.csv")))
    assert rows == [{"student": "bob", "part": "crop", "mistake": "the top-left corner instead of the centre",
                     "kind": "named"},
                    {"student": "bob", "part": "crop", "mistake": "window off by one row", "kind": "located"}]


def test_the_class_summary_has_a_row_per_student_a_column_per_part_and_the_mistakes_counted(tmp_path):
    report.write_batch(tmp_path, results(), list(assignment.points()))
    page = (tmp_path / "summary.html").read_text()
    assert page.count("<tr><th>") == 1 + 3 and all(f"<th>{part.name}</th>" in page for part in assignment.PARTS)
    assert "<tr><th>bob</th><td>4 / 10</td>" in page and "<td>0 / 100</td><td>invalid JSON</td>" in page
    assert "<li>crop: the top-left corner instead of the centre: 1</li>" in page
    assert "<li>crop: window off by one row (located): 1</li>" in page


def test_the_class_files_are_written_atomically(tmp_path, monkeypatch):
    report.write_batch(tmp_path, results(), list(assignment.points()))
    before = {name: (tmp_path / name).read_text() for name in ("grades.csv", "mistakes.csv", "summary.html")}
    monkeypatch.setattr(os, "replace", lambda *args: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        report.write_batch(tmp_path, results()[:1], list(assignment.points()))
    assert {name: (tmp_path / name).read_text() for name in before} == before
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(before)


def test_the_pages_index_names_each_test(tmp_path):
    page = tmp_path / "feedback.html"
    page.write_text('<li><a href="#test_crop_shape">Test cell</a> (Score: 4.0 / 4.0)</li>\n<a href="#x">Test cell?</a>')
    name_test_links(page)
    assert page.read_text() == ('<li><a href="#test_crop_shape">test_crop_shape</a> (Score: 4.0 / 4.0)</li>\n'
                                '<a href="#x">Test cell?</a>')
