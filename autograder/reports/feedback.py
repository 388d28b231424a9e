"""What makes the feedback page a report a student reads: a table of scores and messages first, the course's
carried code left out, figures made small.

* ``score_table``: the banner's table, one row per part (points earned of possible) and under it each test:
  passed or failed, with the messages of its failure (the asserts', the grader's check, the mistake it
  matched). Built by the worker from the autograded notebook before nbgrader's ``generate_feedback``.
* ``LeaveOutCarriedCode`` (a feedback preprocessor): the cells that carry the course's own modules
  (``lesson/training.py`` ...) keep a one-line note instead of a thousand lines the student did not write.
* ``ShrinkFigures`` (a feedback preprocessor): figures re-encoded as small JPEGs, so that a complete
  submission's page stays well under 500 kB.
* ``name_test_links``: nbgrader's index of the page names each test by its grade_id, not "Test cell".
"""
from __future__ import annotations

import base64
import html
import io
import pathlib
import re

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer, List, Unicode

from autograder import assignment
from autograder.judging.verdicts import CHECK_FAILED, CHECK_PREAMBLE
from autograder.reports.result import number


def messages(cell: dict) -> list[str]:
    """The error messages of a test cell's outputs, in order, each in a few words less than in the cell."""
    found = []
    for output in cell.get("outputs", []):
        if output.get("output_type") != "error":
            continue
        name, value = output.get("ename"), output.get("evalue") or ""
        if name == CHECK_FAILED:
            found.append("Hidden tests: " + value.replace(CHECK_PREAMBLE, ""))
        else:
            found.append(value if name == "AssertionError" and value else f"{name}: {value}")
    return found


SCORE = 'style="white-space: nowrap; vertical-align: top; padding-left: 1em"'    # a score on one line


def score_table(notebook: NotebookNode, scores: dict[str, float]) -> str:
    """An HTML table: each part's points, then each of its tests, passed or failed, with its messages."""
    cells = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell for cell in notebook.cells}
    groups = [(f"Part: {part.signature}", part.tests) for part in assignment.PARTS]
    groups.append(("The training run", (assignment.TRAINING,)))
    rows = []
    for title, tests in groups:
        earned, possible = sum(scores.get(test.grade_id, 0) for test in tests), sum(test.points for test in tests)
        rows.append(f"<tr><th>{html.escape(title)}</th><th {SCORE}>{number(earned)} / {number(possible)}</th></tr>")
        for test in tests:
            got = scores.get(test.grade_id, 0)
            verdict = "passed" if got >= test.points else "failed"
            found = messages(cells[test.grade_id]) if test.grade_id in cells and verdict == "failed" else []
            text = "".join(f"<br>{html.escape(message)}" for message in found)
            rows.append(f"<tr><td><code>{test.grade_id}</code>: <b>{verdict}</b>{text}</td>"
                        f"<td {SCORE}>{number(got)} / {number(test.points)}</td></tr>")
    return "<table>\n" + "\n".join(rows) + "\n</table>"


class LeaveOutCarriedCode(NbGraderPreprocessor):
    """Replace the source of the cells that carry the course's modules by a note (their outputs stay)."""

    carried = List(Unicode(), default_value=[], help="grade_ids of the cells carrying course modules").tag(config=True)

    def preprocess(self, nb, resources):
        for cell in nb.cells:
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") in self.carried:
                cell.source = "# The course's own code, as released, runs here (left out of this report)."
        return nb, resources


class ShrinkFigures(NbGraderPreprocessor):
    """Re-encode each figure as a JPEG at most `max_width` pixels wide."""

    max_width = Integer(640, help="widest figure, in pixels").tag(config=True)
    quality = Integer(70, help="JPEG quality").tag(config=True)

    def preprocess(self, nb, resources):
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if "image/png" in data:
                    data["image/jpeg"] = self._shrunk(data.pop("image/png"))
                    output.get("metadata", {}).pop("image/png", None)
        return nb, resources

    def _shrunk(self, png: str) -> str:
        from PIL import Image
        image = Image.open(io.BytesIO(base64.b64decode(png))).convert("RGB")
        if image.width > self.max_width:
            image = image.resize((self.max_width, round(image.height * self.max_width / image.width)))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=self.quality, optimize=True)
        return base64.b64encode(buffer.getvalue()).decode()


TEST_LINK = re.compile(r'<a href="#(\w+)">Test cell</a>')


def name_test_links(page: pathlib.Path) -> None:
    """In nbgrader's index at the top of a feedback page, name each test by its grade_id, not "Test cell"."""
    text = page.read_text(encoding="utf-8")
    page.write_text(TEST_LINK.sub(r'<a href="#\1">\1</a>', text), encoding="utf-8")


def carried_cells(release: NotebookNode) -> list[str]:
    """The grade_ids of the release's cells that carry course modules (metadata ``unet_course.inline``)."""
    return [cell.metadata["nbgrader"]["grade_id"] for cell in release.cells
            if cell.metadata.get("unet_course", {}).get("inline") and "nbgrader" in cell.metadata]
