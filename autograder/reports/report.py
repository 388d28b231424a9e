"""The grader's outputs: ``grades.csv``, ``mistakes.csv`` and ``summary.html`` (each written atomically) and one
feedback page per student. The pages are Jinja2 templates in ``templates/`` beside this module: ``summary.html.j2``
(the class view, with the charts of ``charts.py``) and ``not_graded.html.j2`` (the page of a submission that could
not be graded)."""

from __future__ import annotations

import collections
import csv
import io
import os
import pathlib
import tempfile

from autograder.reports.result import Result, number
from autograder.reports.templating import render

TEMPLATES = pathlib.Path(__file__).parent / "templates"


def columns(test_ids: list[str]) -> list[str]:
    return ["student", *test_ids, "total", "max_total", "mode", "status"]


def write_grades(path: pathlib.Path, results: list, test_ids: list[str]) -> None:
    """Write one row per result to `path` through a temporary file and a rename: never half a CSV."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns(test_ids), lineterminator="\n")
    writer.writeheader()
    for result in results:
        writer.writerow(result.row(test_ids))
    write_atomically(path, buffer.getvalue())


def write_mistakes(path: pathlib.Path, results: list) -> None:
    """mistakes.csv: `student`, `part`, `mistake`, `kind`, one row per mistake a check found (once per part): a
    known mistake named ("named"), or the category of where a wrong part goes wrong ("located")."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "part", "mistake", "kind"])
    for result in results:
        writer.writerows([result.student, *found] for found in mistakes_of(result))
    write_atomically(path, buffer.getvalue())


def read_rows(path: pathlib.Path, student: str | None = None) -> list[dict[str, str]]:
    """The rows of a batch's CSV (grades.csv, mistakes.csv) as dicts, only `student`'s when given."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if student is None or row["student"] == student]


def mistakes_of(result: Result) -> list[tuple[str, str, str]]:
    """[(part, mistake, kind)] found in a result, each once, in the order the tests found them."""
    from autograder import assignment

    found = []
    for test, mistake, kind in result.mistakes:
        part = assignment.part_of(test)
        entry = (part.name if part else test, mistake, kind)
        if entry not in found:
            found.append(entry)
    return found


def write_summary(path: pathlib.Path, results: list, note: str = "") -> None:
    """summary.html: charts of the totals and of each test's pass rate, one row per student and one column per
    part (points earned of possible), then the mistakes found (known mistakes, and where wrong parts go wrong,
    marked "located") with the number of students each; `note` (text), when given, is a paragraph under the
    heading (e.g. which rows an earlier run graded)."""
    write_atomically(path, render(TEMPLATES, "summary.html.j2", note=note, **summary_values(results)))


def summary_values(results: list) -> dict:
    """What the class view shows: the parts' names, a row per student, the mistakes counted, the charts."""
    from markupsafe import Markup

    from autograder import assignment
    from autograder.reports import charts

    groups = [(part.name, [test.grade_id for test in part.tests]) for part in assignment.PARTS]
    groups.append(("training", [assignment.TRAINING.grade_id]))
    students = [
        {
            "name": result.student,
            "total": f"{number(result.total)} / {number(result.max_total)}",
            "status": result.status,
            "parts": [
                f"{number(sum(result.scores.get(t, 0) for t in tests))} / "
                f"{number(sum(result.max_scores.get(t, 0) for t in tests))}"
                for _, tests in groups
            ],
        }
        for result in results
    ]
    counts = collections.Counter(found for result in results for found in mistakes_of(result))
    mistakes = [
        {"part": part, "words": mistake, "located": kind == "located", "count": count}
        for (part, mistake, kind), count in counts.most_common()
    ]
    shown = (
        [
            ("totals", charts.totals_chart(results)),
            ("pass-rates", charts.pass_rates_chart(results, list(assignment.points()))),
        ]
        if results
        else []
    )
    return {
        "parts": [name for name, _ in groups],
        "students": students,
        "mistakes": mistakes,
        "charts": [{"id": name, "svg": Markup(svg)} for name, svg in shown],
    }


def write_batch(out: pathlib.Path, results: list, test_ids: list[str], note: str = "") -> None:
    """The batch's class-wide files in `out`: grades.csv, mistakes.csv and summary.html (with `note`), each
    atomically."""
    write_grades(pathlib.Path(out) / "grades.csv", results, test_ids)
    write_mistakes(pathlib.Path(out) / "mistakes.csv", results)
    write_summary(pathlib.Path(out) / "summary.html", results, note)


def write_atomically(path: pathlib.Path, text: str | bytes) -> None:
    """Write `text` (or bytes) to `path` through a temporary file and a rename: readers never see half a file."""
    path = pathlib.Path(path)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with (
            os.fdopen(fd, "wb") if isinstance(text, bytes) else os.fdopen(fd, "w", encoding="utf-8", newline="")
        ) as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(partial, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(partial, path)
    except BaseException:
        pathlib.Path(partial).unlink(missing_ok=True)
        raise


def write_feedback(folder: pathlib.Path, result: Result, nbgrader_html: pathlib.Path | None = None) -> pathlib.Path:
    """DIR/feedback/<student>.html (written atomically): nbgrader's feedback page, or a short page when it could
    not be made."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{result.student}.html"
    if nbgrader_html is not None and pathlib.Path(nbgrader_html).exists():
        write_atomically(target, pathlib.Path(nbgrader_html).read_bytes())
        return target
    write_atomically(
        target,
        render(
            TEMPLATES,
            "not_graded.html.j2",
            student=result.student,
            status=result.status,
            total=number(result.total),
            max_total=number(result.max_total),
            mode=result.mode,
        ),
    )
    return target
