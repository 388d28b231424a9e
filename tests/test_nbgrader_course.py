"""An nbgrader course graded in place, end to end: `release --course`, two submissions through nbgrader's exchange
(release_assignment, fetch_assignment, submit, collect), `grade --course`,
then the course read back with nbgrader's own tools (its Gradebook, `nbgrader export`, formgrader's NbGraderAPI,
`nbgrader release_feedback`), the LMS import files of the same batch and Gradescope's results.json of the same
rows; a second run, a locked gradebook and a course without the assignment.

Smoke mode without the sandbox (the grading itself is tested in test_grading.py): about 4 minutes on 2 cores.
"""
import csv
import hashlib
import json
import os
import pathlib
import sqlite3
import subprocess
import sys

import nbformat
import pytest

from autograder import assignment
from autograder.release.course import ASSIGNMENT
from tests.catalogue import expected_scores, named, write

pytestmark = pytest.mark.slow
POINTS = assignment.points()
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
# Two students, through nbgrader's exchange, named with LMS ids so that the same batch also goes out to Canvas and
# Moodle.
STUDENTS = {"smithjane_12345": named("reference"), "doejohn_67890": named("avgpool+nearest_upsample")}


def run(*args, env=None, cwd=None):
    """`python ARGS`, with this Python's bin folder on PATH (nbgrader runs `alembic` when it makes a gradebook)."""
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=900, cwd=cwd,
                          env={**os.environ, "PATH": path, **(env or {})})


def grade_course(course, env, *options):
    return run("-m", "autograder", "grade", "--course", str(course), "--workers", "2", "--mode", "smoke",
               "--sandbox", "off", *options, env=env)


def exchange_flow(course, exchange, scratch):
    """nbgrader's own exchange: release_assignment, each student's fetch_assignment and submit (their notebook in
    place of the fetched one), then collect. Returns the fetched notebooks."""
    exchange.mkdir()
    where = [f"--Exchange.root={exchange}"]
    released = run("-m", "nbgrader", "release_assignment", ASSIGNMENT, *where, cwd=course)
    assert released.returncode == 0, released.stderr
    fetched = {}
    for student, variant in STUDENTS.items():
        home = scratch / student
        home.mkdir()
        as_student = [*where, "--CourseDirectory.course_id=unet101"]
        got = run("-m", "nbgrader", "fetch_assignment", ASSIGNMENT, *as_student, cwd=home)
        assert got.returncode == 0, got.stderr
        fetched[student] = nbformat.read(home / ASSIGNMENT / NOTEBOOK, as_version=4)
        write(variant, scratch / "work")
        (scratch / "work" / variant.file()).replace(home / ASSIGNMENT / NOTEBOOK)
        sent = run("-m", "nbgrader", "submit", ASSIGNMENT, *as_student, f"--student={student}", cwd=home)
        assert sent.returncode == 0, sent.stderr
    collected = run("-m", "nbgrader", "collect", ASSIGNMENT, *where, cwd=course)
    assert collected.returncode == 0, collected.stderr
    return fetched


def gradebook_rows(course):
    """Every score, mark, comment and timestamp of the course's gradebook, read through nbgrader's API."""
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return sorted((submission.student_id, str(submission.timestamp), notebook.late_submission_penalty,
                       sorted((g.name, g.auto_score, g.manual_score, g.needs_manual_grade) for g in notebook.grades),
                       sorted((c.name, c.auto_comment, c.manual_comment) for c in notebook.comments))
                      for submission in gb.assignment_submissions(ASSIGNMENT) for notebook in submission.notebooks)


def digests(folder):
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.rglob("*"))
            if path.is_file()}


@pytest.fixture(scope="module")
def course(tmp_path_factory, data_env):
    root = tmp_path_factory.mktemp("course") / "unet101"
    released = run("-m", "autograder", "release", "--course", str(root))
    assert released.returncode == 0, released.stderr
    fetched = exchange_flow(root, root.parent / "exchange", tmp_path_factory.mktemp("students"))
    submitted = digests(root / "submitted")
    first = grade_course(root, data_env, "--export", "canvas", "--export", "moodle")
    after_first = gradebook_rows(root)
    second = grade_course(root, data_env)
    return {"root": root, "released": released, "first": first, "second": second, "after_first": after_first,
            "submitted": submitted, "env": data_env, "fetched": fetched, "exchange": root.parent / "exchange"}


def csv_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def totals(course):
    return {row["student"]: float(row["total"]) for row in csv_rows(course["root"] / "reports" / ASSIGNMENT / "grades.csv")}


def test_release_into_the_course_is_the_projects_release_and_survives_generate_assignment(course):
    root = course["root"]
    ours = nbformat.read(pathlib.Path(__file__).parents[1] / NOTEBOOK, as_version=4)
    released = root / "release" / ASSIGNMENT / NOTEBOOK
    assert nbformat.read(released, as_version=4) == ours
    assert "is the project's release as it is" in course["released"].stdout
    assert all(notebook == ours for notebook in course["fetched"].values())   # the exchange handed it out as is
    again = run("-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force", cwd=root)
    assert again.returncode == 0, again.stderr
    assert nbformat.read(released, as_version=4) == ours          # collapsed cells, Colab metadata, fingerprints kept


def test_grading_the_course_gives_each_student_the_expected_scores(course):
    assert course["first"].returncode == 0, course["first"].stderr
    rows = {row["student"]: row for row in csv_rows(course["root"] / "reports" / ASSIGNMENT / "grades.csv")}
    for student, variant in STUDENTS.items():
        expected = expected_scores(variant, POINTS)
        assert {test: float(rows[student][test]) for test in POINTS} == pytest.approx(expected), student
    assert totals(course)["smithjane_12345"] == 100 and totals(course)["doejohn_67890"] < 100


def test_gradebook_holds_the_scores_marks_and_timestamps(course):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course['root'] / 'gradebook.db'}") as gb:
        for student, total in totals(course).items():
            submission = gb.find_submission(ASSIGNMENT, student)
            assert submission.score == pytest.approx(total)
            assert submission.max_score == 100
            assert not submission.needs_manual_grade
            collected = (course["root"] / "submitted" / student / ASSIGNMENT / "timestamp.txt").read_text()
            assert submission.timestamp.strftime("%Y-%m-%d %H:%M:%S") == collected[:19]


def test_nbgrader_export_and_formgrader_api_agree_with_grades_csv(course, tmp_path):
    root = course["root"]
    exported = run("-m", "nbgrader", "export", "--to", str(tmp_path / "export.csv"), cwd=root)
    assert exported.returncode == 0, exported.stderr
    by_nbgrader = {row["student_id"]: float(row["score"]) for row in csv_rows(tmp_path / "export.csv")}
    assert by_nbgrader == totals(course)
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from autograder.integrations.nbgrader_course import course_config
    config = course_config(root)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    submissions = {entry["student"]: entry for entry in api.get_submissions(ASSIGNMENT)}
    assert {student: entry["score"] for student, entry in submissions.items()} == pytest.approx(totals(course))
    assert all(entry["autograded"] and not entry["needs_manual_grade"] for entry in submissions.values())
    notebooks = api.get_notebook_submissions(ASSIGNMENT, ASSIGNMENT)
    assert sorted(entry["student"] for entry in notebooks) == sorted(STUDENTS)


def test_autograded_and_feedback_in_nbgraders_layout_and_release_feedback_hands_them_out(course):
    root = course["root"]
    for student in STUDENTS:
        graded = nbformat.read(root / "autograded" / student / ASSIGNMENT / NOTEBOOK, as_version=4)
        assert any(cell.metadata.get("nbgrader", {}).get("grade_id") == "test_crop_shape" for cell in graded.cells)
        feedback = root / "feedback" / student / ASSIGNMENT
        assert "Grading report" in (feedback / f"{ASSIGNMENT}.html").read_text()
        submitted = root / "submitted" / student / ASSIGNMENT
        for kept in ("timestamp.txt", "submission_secret.txt"):
            assert (feedback / kept).read_text() == (submitted / kept).read_text()
    exchange = course["exchange"]
    released = run("-m", "nbgrader", "release_feedback", ASSIGNMENT, f"--Exchange.root={exchange}", cwd=root)
    assert released.returncode == 0, released.stderr
    assert len(list((exchange / "unet101" / "feedback").glob("*.html"))) == len(STUDENTS)


def test_the_lms_files_and_results_json_of_the_same_batch_agree(course):
    out = course["root"] / "reports" / ASSIGNMENT
    canvas = csv_rows(out / "grades-canvas.csv")
    assert canvas[0]["Student"].strip() == "Points Possible" and canvas[0][ASSIGNMENT] == "100"
    assert {f"{row['Student']}_{row['ID']}": float(row[ASSIGNMENT]) for row in canvas[1:]} == totals(course)
    moodle = csv_rows(out / "grades-moodle.csv")
    assert {f"{row['Full name']}_{row['Identifier'].split()[-1]}": float(row["Grade"]) for row in moodle} == totals(course)
    assert all(row["Identifier"].startswith("Participant ") and row["Maximum Grade"] == "100" for row in moodle)
    from autograder.integrations import gradescope
    for student, total in totals(course).items():
        results = gradescope.results_from(out, student)
        gradescope.validate(results)
        assert results["score"] == pytest.approx(total)
        assert sum(test["score"] for test in results["tests"]) == pytest.approx(total)


def test_grading_twice_gives_the_same_gradebook_and_leaves_submissions_alone(course):
    assert course["second"].returncode == 0, course["second"].stderr
    assert "0 of 2 submission(s) to grade; 2 kept result(s) reused" in course["second"].stdout     # kept, recorded
    assert gradebook_rows(course["root"]) == course["after_first"]
    assert digests(course["root"] / "submitted") == course["submitted"]


def test_a_locked_gradebook_stops_with_a_message_and_changes_nothing(course):
    root = course["root"]
    before = (root / "gradebook.db").read_bytes(), digests(root / "autograded")
    holder = sqlite3.connect(root / "gradebook.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")                       # as a formgrader in the middle of saving a grade
    try:
        locked = grade_course(root, {**course["env"], "UNET_GRADEBOOK_WAIT": "2"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert locked.returncode == 3
    assert "stayed locked for 2 s" in locked.stderr and "run the same command again" in locked.stderr
    assert ((root / "gradebook.db").read_bytes(), digests(root / "autograded")) == before


def test_a_gradebook_locked_once_grading_is_done_is_left_as_it_was(course, tmp_path, monkeypatch):
    from autograder.integrations.nbgrader_course import Course, GradebookLocked
    from autograder.reports.result import Result
    root = course["root"]
    before = (root / "gradebook.db").read_bytes(), digests(root / "autograded"), digests(root / "feedback")
    graded = Course(root)
    graded.stage = tmp_path
    zero = Result("smithjane_12345", dict.fromkeys(POINTS, 0.0), dict(POINTS), "smoke", "ok")
    monkeypatch.setenv("UNET_GRADEBOOK_WAIT", "1")
    holder = sqlite3.connect(root / "gradebook.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(GradebookLocked, match="grades and reports of this batch are kept"):
            graded.record([zero])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert ((root / "gradebook.db").read_bytes(), digests(root / "autograded"), digests(root / "feedback")) == before


def test_a_course_without_the_assignment_is_refused_with_the_command_to_run(tmp_path, data_env):
    root = tmp_path / "other_course"
    folder = root / "submitted" / "alice" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / NOTEBOOK).write_text("{}")
    (root / "nbgrader_config.py").write_text("c = get_config()\n")
    refused = grade_course(root, data_env)
    assert refused.returncode == 2
    assert "has no gradebook yet" in refused.stderr and f"release --course {root}" in refused.stderr
    assert sorted(path.name for path in root.iterdir()) == ["nbgrader_config.py", "submitted"]
    made = run("-m", "nbgrader", "db", "student", "add", "alice", cwd=root)     # a gradebook, without the assignment
    assert made.returncode == 0, made.stderr
    refused = grade_course(root, data_env)
    assert refused.returncode == 2 and "does not know the assignment UNet_Assignment" in refused.stderr


def test_a_manual_score_given_in_formgrader_stays_and_its_test_stays_marked_for_review(course, tmp_path):
    import shutil
    from nbgrader.api import Gradebook
    from autograder.integrations.nbgrader_course import Course
    from autograder.reports.result import Result
    root = tmp_path / "unet101"
    shutil.copytree(course["root"], root)
    url = f"sqlite:///{root / 'gradebook.db'}"
    with Gradebook(url) as gb:                           # what formgrader's "save" does with a grader's score
        grade = gb.find_grade("test_crop_shape", ASSIGNMENT, ASSIGNMENT, "doejohn_67890")
        grade.manual_score = 2
        gb.db.commit()
    again = Course(root)
    again.stage = tmp_path / "stage"
    (again.stage / "doejohn_67890").mkdir(parents=True)
    shutil.copyfile(root / "autograded" / "doejohn_67890" / ASSIGNMENT / NOTEBOOK, again.stage / "doejohn_67890" / NOTEBOOK)
    scores = {test: float(row) for test, row in
              next(r for r in csv_rows(root / "reports" / ASSIGNMENT / "grades.csv") if r["student"] == "doejohn_67890").items()
              if test in POINTS}
    again.record([Result("doejohn_67890", scores, dict(POINTS), "smoke", "ok")], log=lambda _: None)
    with Gradebook(url) as gb:
        grade = gb.find_grade("test_crop_shape", ASSIGNMENT, ASSIGNMENT, "doejohn_67890")
        assert (grade.auto_score, grade.manual_score, grade.needs_manual_grade) == (4, 2, True)
        assert gb.find_submission(ASSIGNMENT, "doejohn_67890").score == totals(course)["doejohn_67890"] - 2
        others = gb.find_submission(ASSIGNMENT, "doejohn_67890").notebooks[0].grades
        assert [g.name for g in others if g.needs_manual_grade] == ["test_crop_shape"]
