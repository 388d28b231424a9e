"""The report a student reads and the class view (autograder/reports/feedback.py, autograder/reports/report.py),
without a kernel."""

import base64
import csv
import io
import os

import nbformat
import pytest

from autograder import assignment
from autograder.grading.plugins import CHECK_FAILED, CHECK_PREAMBLE, error_output
from autograder.reports import feedback, report
from autograder.reports.feedback import LeaveOutCarriedCode, ShrinkFigures, carried_cells, score_table
from autograder.reports.result import Result
from tests.catalogue import fill


def graded(visible="visible assert", **failures):
    """The filled release as if autograded: each test named in `failures` failed with the message `visible` of
    its assert and that message of the grader's check."""
    notebook = fill()
    for cell in notebook.cells:
        message = failures.get(cell.metadata.get("nbgrader", {}).get("grade_id"))
        if message:
            cell.outputs = [
                error_output("AssertionError", visible),
                error_output(CHECK_FAILED, CHECK_PREAMBLE + message),
            ]
    return notebook


def rows(table):
    """{grade_id or part title: (the row's words, its points)} of a score table's HTML."""
    import html
    import re

    found = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S):
        cells = [
            " ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        ]
        found[cells[0].split()[0] if cells[0].startswith("test_") else cells[0]] = tuple(cells)
    return found


def test_the_score_table_has_each_part_and_each_test_with_its_messages():
    points = assignment.points()
    scores = {**points, "test_crop_centre": 0}
    failure = "a different window. Your part's results match a known mistake: X"
    table = rows(score_table(graded(test_crop_centre=failure), scores))
    assert table["Part: crop(image, new_shape)"] == ("Part: crop(image, new_shape)", "4 / 10")
    assert table["test_crop_centre"][0].startswith(
        "test_crop_centre : failed visible assert Hidden tests: a different window."
    )
    assert table["test_crop_shape"] == ("test_crop_shape : passed", "4 / 4")
    assert table["The training run"][1] == "15 / 15"
    verdicts = [words.split(" : ")[1] for words, _ in table.values() if words.startswith("test_")]
    assert verdicts.count("passed") == len(points) - 1
    assert all(CHECK_PREAMBLE not in words for words, _ in table.values())


KNOWN = (
    "Your part's results match a known mistake: average pooling (the specification asks for "
    "nn.MaxPool2d(kernel_size=2, stride=2))."
)


def test_a_mistake_is_said_once_per_test():
    scores = {**assignment.points(), "test_contracting_block_forward": 0, "test_contracting_block_layers": 0}
    notebook = graded(
        visible=f"forward differs (the sum is 1.5, the specification's 3). {KNOWN}",
        test_contracting_block_forward=f"forward differs by up to 5.7. {KNOWN} What the specification "
        "asks: maxpool(relu(conv2(relu(conv1(x))))).",
        test_contracting_block_layers="maxpool differs. " + KNOWN.replace("a known mistake", "known mistakes"),
    )
    table = rows(score_table(notebook, scores))
    words = table["test_contracting_block_forward"][0]
    assert words.count("average pooling") == 1, words
    assert words == (
        "test_contracting_block_forward : failed forward differs (the sum is 1.5, the specification's 3). "
        f"{KNOWN} Hidden tests: forward differs by up to 5.7. What the specification asks: "
        "maxpool(relu(conv2(relu(conv1(x)))))."
    )
    assert table["test_contracting_block_layers"][0].count("average pooling") == 2  # not the same sentence


def test_the_report_says_how_the_notebook_was_graded_and_what_was_repaired():
    header = feedback.report_header(
        graded(),
        assignment.points(),
        mode="quick",
        description="Quick <mode>.",
        sandboxed=True,
        status="ok",
        notes=["the test cell t was missing; it was restored"],
    )
    assert "<h2>Grading report: quick mode</h2>" in header and "<p>Quick &lt;mode&gt;.</p>" in header
    assert "Your code ran in a sandbox" in header and "<strong>Status:</strong> ok." in header
    assert "<li>the test cell t was missing; it was restored</li>" in header and header.count("<table") == 1
    header = feedback.report_header(
        graded(), assignment.points(), mode="smoke", description="", sandboxed=False, status="ok", notes=[]
    )
    assert "Your code ran without a sandbox." in header and "What the grader repaired" not in header


def test_the_carried_modules_are_left_out_and_the_students_cells_kept():
    notebook = fill()
    carried = carried_cells(notebook)
    assert carried == [
        "config_module",
        "data_module",
        "fingerprint_module",
        "trace_module",
        "locate_module",
        "raising_module",
        "stopped_module",
        "selfcheck_module",
        "selfcheck_prints",
        "speed_module",
        "training_module",
        "metrics_module",
    ]
    LeaveOutCarriedCode(carried=carried).preprocess(notebook, {})
    sources = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell.source for cell in notebook.cells}
    assert all(sources[grade_id].startswith("# The course's own code") for grade_id in carried)
    assert "def crop(image, new_shape):" in sources["crop"]


def test_figures_are_shrunk_to_small_jpegs():
    from PIL import Image

    buffer = io.BytesIO()
    Image.effect_noise((1500, 500), 64).convert("RGB").save(buffer, format="PNG")
    png = base64.b64encode(buffer.getvalue()).decode()
    cell = nbformat.v4.new_code_cell(
        "plt.show()", outputs=[nbformat.v4.new_output("display_data", data={"image/png": png})]
    )
    notebook = nbformat.v4.new_notebook(cells=[cell])
    ShrinkFigures().preprocess(notebook, {})
    data = notebook.cells[0].outputs[0]["data"]
    assert "image/png" not in data and len(data["image/jpeg"]) < len(png) / 4
    assert Image.open(io.BytesIO(base64.b64decode(data["image/jpeg"]))).size == (640, 213)


def results():
    points = assignment.points()
    return [
        Result("ann", dict(points), dict(points), "quick", "ok"),
        Result(
            "bob",
            {**points, "test_crop_centre": 0, "test_training": 0},
            dict(points),
            "quick",
            "ok",
            mistakes=[
                ("test_crop_centre", "the top-left corner instead of the centre", "named"),
                ("test_crop_shape", "the top-left corner instead of the centre", "named"),
                ("test_crop_centre", "window off by one row", "located"),
            ],
        ),
        Result("cy", {}, dict(points), "quick", "invalid JSON"),
    ]


def test_mistakes_csv_lists_each_mistake_once_per_part_and_student(tmp_path):
    report.write_batch(tmp_path, results(), list(assignment.points()))
    rows = list(csv.DictReader(open(tmp_path / "mistakes.csv")))
    assert rows == [
        {"student": "bob", "part": "crop", "mistake": "the top-left corner instead of the centre", "kind": "named"},
        {"student": "bob", "part": "crop", "mistake": "window off by one row", "kind": "located"},
    ]


def test_the_class_summary_has_a_row_per_student_a_column_per_part_and_the_mistakes_counted(tmp_path):
    report.write_batch(tmp_path, results(), list(assignment.points()))
    page = (tmp_path / "summary.html").read_text()
    assert page.count("<tr><th>") == 1 + 3 and all(f"<th>{part.name}</th>" in page for part in assignment.PARTS)
    assert "<tr><th>bob</th><td>4 / 10</td>" in page and '<td>0 / 100</td><td class="status">invalid JSON</td>' in page
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


def feedback_page(notebook, header="<p>the report</p>"):
    """The feedback page nbgrader's generate_feedback makes with the grader's settings, rendered here."""
    from nbconvert.exporters import HTMLExporter

    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.metadata.nbgrader["score"] = 0 if cell.outputs else cell.metadata.nbgrader["points"]
    config = feedback.exporter_config()
    config.FeedbackReport.header = header
    exporter = HTMLExporter(config=config)
    exporter.register_preprocessor(feedback.FeedbackReport(config=config), enabled=True)
    page, _ = exporter.from_notebook_node(
        notebook,
        resources={"nbgrader": {"notebook": "UNet_Assignment", "score": 94, "max_score": 100, "late_penalty": 0}},
    )
    return page


def test_the_pages_index_names_each_test_and_the_report_comes_first():
    page = feedback_page(graded(test_crop_centre="a different window."), "<p>the grader's report</p>")
    assert '<a href="#test_crop_shape">test_crop_shape</a> (Score: 4.0 / 4.0)' in page
    assert '<a href="#test_crop_centre">test_crop_centre</a> (Score: 0.0 / 6.0)' in page
    assert "Test cell" not in page and "UNet_Assignment (Score: 94.0 / 100.0)" in page
    assert page.index('id="toc"') < page.index("<p>the grader's report</p>") < page.index('<a name="test_crop_shape">')


def a_class(size):
    """`size` results with long names that have no place to break (as an LMS's export may name them) and scores
    spread over the range."""
    points = assignment.points()
    tests = list(points)
    return [
        Result(
            f"{index:03d}_a_student_with_a_long_name_from_the_lms_export+attempt_2+final_final_version",
            {test: points[test] if (index * 7 + number) % (2 + index % 5) else 0 for number, test in enumerate(tests)},
            dict(points),
            "quick",
            "time limit in train_model" if index % 9 == 0 else SANDBOXED,
        )
        for index in range(size)
    ]


SANDBOXED = (
    "ok; sandbox: cgroup v1 memory 6 GiB, 64 tasks; disk 2 GiB, 100000 files (tmpfs); rlimits 4 GiB data, "
    "64 processes, 2 GiB files"
)


PAGE_PROBE = """
const rect = element => { const r = element.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height}; };
const table = document.querySelector('table');
const box = document.querySelector('.table-box') || table;
return {view: document.documentElement.clientWidth, page: document.documentElement.scrollWidth, box: rect(box),
        heads: Array.from(table.querySelectorAll('thead th')).map(th => [th.textContent, rect(th)]),
        rows: table.querySelectorAll('tbody tr').length,
        charts: Array.from(document.querySelectorAll('figure.chart')).map(chart => [chart.textContent, rect(chart)])};
"""


def test_the_class_view_fits_its_page_with_100_students_and_shows_charts_above_the_table(tmp_path):
    """Laid out by headless Chromium at 1,300 px: nothing sticks out of the page, every column (total and status
    included) shows inside the table's box, which scrolls; the totals' and the pass rates' charts come first."""
    from tests.browser import measured, require_chromium

    require_chromium()
    students = a_class(100)
    report.write_batch(tmp_path, students, list(assignment.points()))
    seen = measured(tmp_path / "summary.html", PAGE_PROBE, width=1300, height=900)
    assert seen["rows"] == 100 and seen["page"] <= seen["view"], seen["page"]
    assert seen["box"]["right"] <= seen["view"] and seen["box"]["height"] <= 900, seen["box"]
    assert [name for name, _ in seen["heads"]][-2:] == ["total", "status"]
    assert all(rect["right"] <= seen["box"]["right"] + 1 for _, rect in seen["heads"]), seen["heads"]
    (totals, chart), (rates, other) = seen["charts"]
    assert "total points (of 100)" in totals and "Totals of 100 submission(s)" in totals
    crop_shape = sum(student.scores["test_crop_shape"] > 0 for student in students)
    assert all(test in rates for test in assignment.points()) and f"{crop_shape}%" in rates
    for rect in (chart, other):
        assert rect["width"] > 200 and rect["height"] > 150 and rect["right"] <= seen["view"], rect
        assert rect["bottom"] <= seen["box"]["top"], (rect, seen["box"])


def test_the_report_says_a_mistake_once_per_test_and_dropped_copies_in_one_line_in_a_browser(tmp_path):
    """The feedback page as Chromium shows it: a failed test's row names its known mistake once, though the
    visible test and the hidden check both found it; the grader's repairs count the dropped copies in one line."""
    from tests.browser import measured, require_chromium

    require_chromium()
    scores = {**assignment.points(), "test_contracting_block_forward": 0}
    notebook = graded(
        visible=f"forward differs (the sum is 1.5, the specification's 3). {KNOWN}",
        test_contracting_block_forward=f"forward differs by up to 5.7. {KNOWN}",
    )
    header = feedback.report_header(
        notebook,
        scores,
        mode="quick",
        description="Quick.",
        sandboxed=True,
        status="ok",
        notes=["6 copies of 3 cells were dropped: a (2), b (2), c (2)"],
    )
    page = tmp_path / "feedback.html"
    page.write_text(feedback_page(notebook, header), encoding="utf-8")
    seen = measured(
        page,
        """return {row: document.getElementById('score-test_contracting_block_forward').innerText,
        repairs: Array.from(document.querySelectorAll('.repairs li')).map(item => item.innerText)};""",
    )
    assert seen["row"].count("average pooling") == 1 and "forward differs by up to 5.7." in seen["row"], seen["row"]
    assert seen["repairs"] == ["6 copies of 3 cells were dropped: a (2), b (2), c (2)"]
