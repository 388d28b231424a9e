"""An nbgrader course graded in place, end to end, by the recipe of docs/platforms.md as written (tests/recipes.py):
`unet-course release --course`, the students' settings, two submissions through nbgrader's exchange
(release_assignment, fetch_assignment, submit, collect), `unet-course grade --course`, then the course read back with
nbgrader's own tools (its Gradebook, `nbgrader export`, formgrader's NbGraderAPI, `nbgrader release_feedback`), the
LMS import files of the same batch and Gradescope's results.json of the same rows; no command warns; a second run, a
manual score given as formgrader gives it and shown by the reports after grading again, a locked gradebook and a
course without the assignment.

Smoke mode without the sandbox (the grading itself is tested in test_grading.py): about 5 minutes on 2 cores.
"""

import csv
import hashlib
import os
import pathlib
import sqlite3
import subprocess
import sys

import nbformat
import pytest

from autograder import assignment
from autograder.release.course import ASSIGNMENT
from tests import recipes
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
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=cwd,
        env={**os.environ, "PATH": path, **(env or {})},
    )


def grade_course(course, env, *options):
    return run(
        "-m",
        "autograder",
        "grade",
        "--course",
        str(course),
        "--workers",
        "2",
        "--mode",
        "smoke",
        "--sandbox",
        "off",
        *options,
        env=env,
    )


def students_flow(home, scratch):
    """Each student's part of the recipe, in a home of their own: fetch_assignment, their notebook in place of the
    fetched one ("solve ..."), submit. Returns the fetched notebooks."""
    lines = recipes.recipe("nbgrader-student")
    solving = next(index for index, line in enumerate(lines) if line.startswith("#"))
    fetched = {}
    for student, variant in STUDENTS.items():
        own = home.parent / student
        got = recipes.run(lines[:solving], own, cwd=own, env=student_env(home))
        assert got.returncode == 0, got.stderr
        fetched[student] = nbformat.read(own / ASSIGNMENT / NOTEBOOK, as_version=4)
        write(variant, scratch)
        (scratch / variant.file()).replace(own / ASSIGNMENT / NOTEBOOK)
        sent = recipes.run(
            lines[solving:],
            own,
            cwd=own,
            env=student_env(home),  # one user plays them all here
            appended={"nbgrader submit": f"--student={student}"},
        )
        assert sent.returncode == 0, sent.stderr
        assert not recipes.warnings_in(got) + recipes.warnings_in(sent)
    return fetched


def student_env(home):
    """The students read the settings the instructor put in /etc/jupyter/ (here a folder beside the homes)."""
    return {"JUPYTER_CONFIG_PATH": str(home.parent / "etc_jupyter")}


def substitutions(home):
    """The recipe's paths outside the test's folders: the system-wide exchange and /etc/jupyter, without sudo."""
    return {
        "/srv/nbgrader/exchange": str(home.parent / "exchange"),
        "sudo ": "",
        "/etc/jupyter/": str(home.parent / "etc_jupyter") + "/",
    }


def gradebook_rows(course):
    """Every score, mark, comment and timestamp of the course's gradebook, read through nbgrader's API."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return sorted(
            (
                submission.student_id,
                str(submission.timestamp),
                notebook.late_submission_penalty,
                sorted((g.name, g.auto_score, g.manual_score, g.needs_manual_grade) for g in notebook.grades),
                sorted((c.name, c.auto_comment, c.manual_comment) for c in notebook.comments),
            )
            for submission in gb.assignment_submissions(ASSIGNMENT)
            for notebook in submission.notebooks
        )


def digests(folder):
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.rglob("*")) if path.is_file()
    }


@pytest.fixture(scope="module")
def course(tmp_path_factory, data_env):
    home = tmp_path_factory.mktemp("users") / "instructor"
    root, exchange = home / "unet101", home.parent / "exchange"
    released = recipes.run(recipes.recipe("nbgrader-release"), home, substitutions=substitutions(home))
    assert released.returncode == 0, released.stdout + released.stderr
    fetched = students_flow(home, tmp_path_factory.mktemp("work"))
    collect, grade = recipes.recipe("nbgrader-grade")  # nbgrader collect, then unet-course grade
    collected = recipes.run([collect], home)
    assert collected.returncode == 0, collected.stderr
    submitted = digests(root / "submitted")
    first = recipes.run(
        [grade],
        home,
        env=data_env,
        appended={"unet-course grade": "--mode smoke --sandbox off --export canvas --export moodle"},
    )
    after_first = gradebook_rows(root)
    second = grade_course(root, data_env)
    return {
        "root": root,
        "home": home,
        "released": released,
        "collected": collected,
        "first": first,
        "second": second,
        "after_first": after_first,
        "submitted": submitted,
        "env": data_env,
        "fetched": fetched,
        "exchange": exchange,
    }


def csv_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def totals(course):
    return {
        row["student"]: float(row["total"]) for row in csv_rows(course["root"] / "reports" / ASSIGNMENT / "grades.csv")
    }


def test_release_into_the_course_is_the_projects_release_and_survives_generate_assignment(course):
    root = course["root"]
    ours = nbformat.read(pathlib.Path(__file__).parents[1] / NOTEBOOK, as_version=4)
    released = root / "release" / ASSIGNMENT / NOTEBOOK
    assert nbformat.read(released, as_version=4) == ours
    assert "is the project's release as it is" in course["released"].stdout
    assert all(notebook == ours for notebook in course["fetched"].values())  # the exchange handed it out as is
    again = run("-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force", cwd=root)
    assert again.returncode == 0, again.stderr
    assert nbformat.read(released, as_version=4) == ours  # collapsed cells, Colab metadata, fingerprints kept


def test_the_recipe_says_the_course_id_and_the_exchange_and_warns_of_nothing(course):
    root, said = course["root"], course["released"].stdout
    assert f"the course id is 'unet101' and the exchange {course['exchange']}" in said
    for config in (root / "nbgrader_config.py", root / "for_students" / "nbgrader_config.py"):
        text = config.read_text()
        assert "c.CourseDirectory.course_id = 'unet101'" in text and f"c.Exchange.root = '{course['exchange']}'" in text
    assert (course["exchange"] / "unet101" / "inbound").is_dir()  # the students submitted through it
    for ran in ("released", "first", "second"):
        assert course[ran].returncode == 0, course[ran].stderr
        assert recipes.warnings_in(course[ran]) == [], ran
    # collect's only warnings: each submission is owned by the one user who plays every student here
    said = course["collected"].stderr
    assert len(recipes.warnings_in(course["collected"])) == said.count("claims to be submitted by") == len(STUDENTS)


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
    assert {f"{row['Full name']}_{row['Identifier'].split()[-1]}": float(row["Grade"]) for row in moodle} == totals(
        course
    )
    assert all(row["Identifier"].startswith("Participant ") and row["Maximum Grade"] == "100" for row in moodle)
    from autograder.integrations import gradescope

    for student, total in totals(course).items():
        results = gradescope.results_from(out, student)
        gradescope.validate(results)
        assert results["score"] == pytest.approx(total)
        assert sum(test["score"] for test in results["tests"]) == pytest.approx(total)


def test_grading_twice_gives_the_same_gradebook_and_leaves_submissions_alone(course):
    assert course["second"].returncode == 0, course["second"].stderr
    assert "0 of 2 submission(s) to grade; 2 kept result(s) reused" in course["second"].stdout  # kept, recorded
    assert gradebook_rows(course["root"]) == course["after_first"]
    assert digests(course["root"] / "submitted") == course["submitted"]


def test_a_locked_gradebook_stops_with_a_message_and_changes_nothing(course):
    root = course["root"]
    before = (root / "gradebook.db").read_bytes(), digests(root / "autograded")
    holder = sqlite3.connect(root / "gradebook.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # as a formgrader in the middle of saving a grade
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
    made = run("-m", "nbgrader", "db", "student", "add", "alice", cwd=root)  # a gradebook, without the assignment
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
    with Gradebook(url) as gb:  # what formgrader's "save" does with a grader's score
        grade = gb.find_grade("test_crop_shape", ASSIGNMENT, ASSIGNMENT, "doejohn_67890")
        grade.manual_score = 2
        gb.db.commit()
    again = Course(root)
    again.stage = tmp_path / "stage"
    (again.stage / "doejohn_67890").mkdir(parents=True)
    shutil.copyfile(
        root / "autograded" / "doejohn_67890" / ASSIGNMENT / NOTEBOOK, again.stage / "doejohn_67890" / NOTEBOOK
    )
    scores = {
        test: float(row)
        for test, row in next(
            r for r in csv_rows(root / "reports" / ASSIGNMENT / "grades.csv") if r["student"] == "doejohn_67890"
        ).items()
        if test in POINTS
    }
    again.record([Result("doejohn_67890", scores, dict(POINTS), "smoke", "ok")], log=lambda _: None)
    with Gradebook(url) as gb:
        grade = gb.find_grade("test_crop_shape", ASSIGNMENT, ASSIGNMENT, "doejohn_67890")
        assert (grade.auto_score, grade.manual_score, grade.needs_manual_grade) == (4, 2, True)
        assert gb.find_submission(ASSIGNMENT, "doejohn_67890").score == totals(course)["doejohn_67890"] - 2
        others = gb.find_submission(ASSIGNMENT, "doejohn_67890").notebooks[0].grades
        assert [g.name for g in others if g.needs_manual_grade] == ["test_crop_shape"]


def test_after_a_manual_score_grading_again_shows_it_in_the_report_grades_csv_and_the_export(course, tmp_path):
    """The recipe's last step on a copy of the course: a grader gives doejohn 2 of test_crop_shape's 4 points in
    formgrader, then `unet-course grade --course` again, `nbgrader export` and `release_feedback`."""
    import shutil

    from nbgrader.api import Gradebook

    home = tmp_path / "instructor"
    root = home / "unet101"
    shutil.copytree(course["root"], root)
    exchange = tmp_path / "exchange"
    exchange.mkdir(mode=0o1777)
    with open(root / "nbgrader_config.py", "a") as config:  # its own exchange, for its own feedback
        config.write(f"c.Exchange.root = {str(exchange)!r}\n")
    student, before = "doejohn_67890", totals(course)["doejohn_67890"]
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:  # what formgrader's "save" does
        grade = gb.find_grade("test_crop_shape", ASSIGNMENT, ASSIGNMENT, student)
        assert grade.auto_score == 4
        grade.manual_score, grade.needs_manual_grade = 2, False
        gb.db.commit()
    done = recipes.run(
        recipes.recipe("nbgrader-feedback"), home, env=course["env"], appended=dict([recipes.GRADE_FOR_TESTS])
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert recipes.warnings_in(done) == []
    ours = {row["student"]: float(row["total"]) for row in csv_rows(root / "reports" / ASSIGNMENT / "grades.csv")}
    exported = {row["student_id"]: float(row["score"]) for row in csv_rows(root / "grades.csv")}
    assert ours == exported and ours[student] == before - 2 and ours["smithjane_12345"] == 100
    page = (root / "feedback" / student / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")).read_text()
    assert "Scores given by your instructor" in page and "<code>test_crop_shape</code> 2" in page
    assert f"(Score: {before - 2:.1f} / 100.0)" in page  # nbgrader's own header: the gradebook's total
    assert '<a href="#test_crop_shape">test_crop_shape</a> (Score: 2.0 / 4.0)' in page
    handed_out = list((exchange / "unet101" / "feedback").glob("*.html"))
    assert len(handed_out) == len(STUDENTS)
    assert any("Scores given by your instructor" in path.read_text() for path in handed_out)
