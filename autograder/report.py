"""The grader's outputs: ``grades.csv`` (written atomically) and one feedback page per student."""
from __future__ import annotations

import csv
import html
import io
import os
import pathlib
import shutil
import tempfile


def columns(test_ids: list[str]) -> list[str]:
    return ["student", *test_ids, "total", "max_total", "mode", "status"]


def write_grades(path: pathlib.Path, results: list, test_ids: list[str]) -> None:
    """Write one row per result to `path` through a temporary file and a rename: never half a CSV."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns(test_ids), lineterminator="\n")
    writer.writeheader()
    for result in results:
        writer.writerow(result.row(test_ids))
    path = pathlib.Path(path)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except BaseException:
        pathlib.Path(partial).unlink(missing_ok=True)
        raise


def number(value: float) -> int | float:
    """Scores as the CSV shows them: 5 rather than 5.0, 2.5 as it is."""
    return int(value) if float(value).is_integer() else round(float(value), 4)


def write_feedback(folder: pathlib.Path, result, nbgrader_html: pathlib.Path | None = None) -> pathlib.Path:
    """DIR/feedback/<student>.html: nbgrader's feedback page, or a short page when it could not be made."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{result.student}.html"
    if nbgrader_html is not None and pathlib.Path(nbgrader_html).exists():
        shutil.copyfile(nbgrader_html, target)
        return target
    target.write_text(
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Feedback</title></head><body>\n"
        f"<h1>{html.escape(result.student)}</h1>\n"
        f"<p>This submission could not be graded: <strong>{html.escape(result.status)}</strong>.</p>\n"
        f"<p>Score: {number(result.total)} / {number(result.max_total)} ({html.escape(result.mode)} mode).</p>\n"
        "<p>Submit the notebook file (.ipynb) as saved by Jupyter or Colab (File &gt; Download &gt; .ipynb).</p>\n"
        "</body></html>\n", encoding="utf-8")
    return target
