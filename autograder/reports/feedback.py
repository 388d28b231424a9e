"""What makes the feedback page a report a student reads: the grader's report and a table of scores and messages
first, the course's carried code left out, figures made small. The page and the report are Jinja2 templates in
``templates/`` beside this module (package data).

* ``report_header``: the report above the notebook (``templates/report_header.html.j2``): the mode, the sandbox,
  the status, what the grader repaired, and ``score_table``: one row per part (points earned of possible) and
  under it each test, passed or failed, with the messages of its failure (the asserts', the grader's check, the
  mistake it matched: each diagnosis said once per test). Built by the worker from the autograded notebook before
  nbgrader's ``generate_feedback``, and handed to the page by ``FeedbackReport``.
* ``exporter_config``: nbgrader's ``generate_feedback`` renders the page with
  ``templates/feedback/unet_feedback.html.j2``, which extends nbgrader's own feedback template: the report above
  the notebook, each test named by its grade_id in the index.
* ``LeaveOutCarriedCode`` (a feedback preprocessor): the cells that carry the course's own modules
  (``lesson/training.py`` ...) keep a one-line note instead of a thousand lines the student did not write.
* ``ShrinkFigures`` (a feedback preprocessor): figures re-encoded as small JPEGs, so that a complete
  submission's page stays well under 500 kB.
"""

from __future__ import annotations

import base64
import io
import os
import pathlib

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer, List, Unicode
from traitlets.config import Config

from autograder import assignment
from autograder.judging.verdicts import CHECK_FAILED, CHECK_PREAMBLE
from autograder.reports.result import number
from autograder.reports.templating import render

TEMPLATES = pathlib.Path(__file__).parent / "templates"
# The page's template: templates/feedback/unet_feedback.html.j2. Its folder takes the name of nbgrader's own
# feedback template, which it extends and which nbgrader's API always asks for (HTMLExporter.template_name).
PAGE_TEMPLATE = "feedback"
PAGE_FILE = "unet_feedback.html.j2"
# The sentences of a diagnosis (lesson/selfcheck.py: naming, locating; grading/plugins.py: diagnosis) that the
# visible test and the hidden check of one test may both say: the report says each once.
DIAGNOSES = ("Your part's results match", "Where it goes wrong:", "They match none of the known mistakes")


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


def said_once(found: list[str]) -> list[str]:
    """The messages of one test, each diagnosis sentence kept only where it is first said."""
    kept = []
    for message in found:
        for earlier in kept:
            message = _without_repeat(message, earlier)
        if message:
            kept.append(message)
    return kept


def _without_repeat(message: str, earlier: str) -> str:
    """`message` without the diagnosis sentences `earlier` says word for word."""
    for start in DIAGNOSES:
        at, before = message.find(start), earlier.find(start)
        if at < 0 or before < 0:
            continue
        shared = os.path.commonprefix([message[at:], earlier[before:]]).rstrip()
        ends = shared.endswith(".") and message[at + len(shared) : at + len(shared) + 1] in ("", " ")
        shared = shared if ends else shared[: shared.rfind(". ") + 1]  # whole sentences only
        if shared:
            message = (message[:at] + message[at + len(shared) :].lstrip()).strip()
    return message


def score_parts(notebook: NotebookNode, scores: dict[str, float]) -> list[dict]:
    """Each part's title and points, and its tests: grade_id, verdict, points and the messages of a failure."""
    cells = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell for cell in notebook.cells}
    groups = [(f"Part: {part.signature}", part.tests) for part in assignment.PARTS]
    groups.append(("The training run", (assignment.TRAINING,)))
    parts = []
    for title, tests in groups:
        rows = []
        for test in tests:
            got = scores.get(test.grade_id, 0)
            verdict = "passed" if got >= test.points else "failed"
            found = messages(cells[test.grade_id]) if test.grade_id in cells and verdict == "failed" else []
            rows.append(
                {
                    "grade_id": test.grade_id,
                    "verdict": verdict,
                    "got": number(got),
                    "points": number(test.points),
                    "messages": said_once(found),
                }
            )
        parts.append(
            {
                "title": title,
                "tests": rows,
                "earned": number(sum(scores.get(t.grade_id, 0) for t in tests)),
                "possible": number(sum(test.points for test in tests)),
            }
        )
    return parts


def score_table(notebook: NotebookNode, scores: dict[str, float]) -> str:
    """An HTML table: each part's points, then each of its tests, passed or failed, with its messages."""
    return render(TEMPLATES, "score_table.html.j2", parts=score_parts(notebook, scores))


def report_header(
    notebook: NotebookNode,
    scores: dict[str, float],
    *,
    mode: str,
    description: str,
    sandboxed: bool,
    status: str,
    notes: list[str],
    manual: dict[str, float] | None = None,
) -> str:
    """The report above the feedback page's notebook: how it was graded, the scores an instructor gave by hand
    (`manual`, {test: points}), what was repaired, the score table."""
    given = [(test, number(points)) for test, points in sorted((manual or {}).items())]
    return render(
        TEMPLATES,
        "report_header.html.j2",
        mode=mode,
        description=description,
        sandboxed=sandboxed,
        status=status,
        notes=notes,
        manual=given,
        parts=score_parts(notebook, scores),
    )


class FeedbackReport(NbGraderPreprocessor):
    """Hand the grader's report (``report_header``'s HTML) to the feedback page's template."""

    header = Unicode("", help="the report's HTML, shown above the notebook").tag(config=True)

    def preprocess(self, nb, resources):
        resources["unet_report"] = self.header
        return nb, resources


def exporter_config() -> Config:
    """nbgrader's HTMLExporter settings for the feedback page: templates/feedback/ on nbgrader's own feedback
    template, and the Bootstrap style sheet that generate_feedback also gives it."""
    import nbgrader

    formgrader = pathlib.Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
    c = Config()
    c.HTMLExporter.template_name = PAGE_TEMPLATE
    c.HTMLExporter.template_file = PAGE_FILE
    c.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), str(formgrader / "templates")]
    c.HTMLExporter.extra_template_paths = [str(formgrader / "static" / "node_modules" / "bootstrap" / "dist" / "css")]
    return c


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


def carried_cells(release: NotebookNode) -> list[str]:
    """The grade_ids of the release's cells that carry course modules (metadata ``unet_course.inline``)."""
    return [
        cell.metadata["nbgrader"]["grade_id"]
        for cell in release.cells
        if cell.metadata.get("unet_course", {}).get("inline") and "nbgrader" in cell.metadata
    ]
