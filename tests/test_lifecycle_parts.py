"""A batch's life in its output folder, part by part and without a kernel: the kept results and their keys
(autograder/reports/kept.py, autograder/grading/keys.py), what a run grades again (autograder/grading/batch.py),
the output folder's lock (autograder/grading/lock.py) and a SIGTERM that stops a run as Ctrl-C does
(autograder/grading/stopping.py). tests/test_lifecycle.py sends the signals to real batches."""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from autograder import assignment
from autograder.__main__ import main
from autograder.grading import batch, keys, lock, stopping
from autograder.grading.submissions import Submission
from autograder.reports import kept, report
from autograder.reports.result import Result

POINTS = assignment.points()
KEY = {"release": "r1", "grader": "g1", "policy": "p1", "mode": "smoke", "data": "d1", "settings": "{}"}


def submissions(folder, **contents):
    folder.mkdir(parents=True, exist_ok=True)
    found = []
    for student, text in contents.items():
        (folder / f"{student}.ipynb").write_text(text)
        found.append(Submission(student, folder / f"{student}.ipynb"))
    return found


def grade_all(run, score=1.0, status="ok"):
    """Grade what `run` has to do as a grader would: each feedback page first, then the result, kept."""
    for index, submission in run.todo:
        result = Result(
            submission.student, {test: score * points for test, points in POINTS.items()}, dict(POINTS), "smoke", status
        )
        result.feedback = report.write_feedback(run.out / "feedback", result)
        run.done(index, result)
    return run.finish()


def new_run(out, given, key=KEY, force=False):
    said = []
    run = batch.Batch(out, given, key, list(POINTS), said.append, force)
    return run, said


def rows(out):
    with open(out / "grades.csv", newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def test_a_second_run_grades_only_new_and_changed_files_and_reuses_the_rest(tmp_path):
    out = tmp_path / "out"
    given = submissions(tmp_path / "in", ann="a", bob="b", cy="c")
    run, _ = new_run(out, given)
    assert [submission.student for _, submission in run.todo] == ["ann", "bob", "cy"]
    grade_all(run)
    assert sorted(path.name for path in (out / kept.FOLDER).iterdir()) == ["ann.json", "bob.json", "cy.json"]
    first = (out / "grades.csv").read_text()

    (tmp_path / "in" / "bob.ipynb").write_text("b, resubmitted")
    given += submissions(tmp_path / "in", dan="d")
    run, said = new_run(out, given)
    assert [submission.student for _, submission in run.todo] == ["bob", "dan"]
    assert run.reused == ["ann", "cy"]
    assert "2 of 4 submission(s) to grade (1 changed: file; 1 new); 2 kept result(s) reused" in said[0]
    results = grade_all(run, score=0.5)
    assert [result.student for result in results] == ["ann", "bob", "cy", "dan"]
    assert rows(out)["bob"]["total"] == "50" and rows(out)["ann"]["total"] == "100"
    assert rows(out)["ann"] == next(row for row in csv.DictReader(first.splitlines()) if row["student"] == "ann")
    summary = (out / "summary.html").read_text()
    assert "2 submission(s) graded in this run; 2 kept from earlier runs (same key): ann, cy." in summary


def test_every_part_of_the_key_and_force_grade_everything_again(tmp_path):
    out = tmp_path / "out"
    given = submissions(tmp_path / "in", ann="a", bob="b")
    grade_all(new_run(out, given)[0])
    for name in KEY:
        run, said = new_run(out, given, {**KEY, name: "changed"})
        assert len(run.todo) == 2 and run.reused == [], name
        assert f"(2 changed: {keys.WORDS[name]})" in said[0]
    run, said = new_run(out, given, force=True)
    assert len(run.todo) == 2 and "(2 --force)" in said[0]
    run, said = new_run(out, given)
    assert run.todo == [] and run.reused == ["ann", "bob"]


def test_students_no_longer_in_the_input_leave_grades_csv_and_keep_their_record(tmp_path):
    out = tmp_path / "out"
    grade_all(new_run(out, submissions(tmp_path / "in", ann="a", bob="b"))[0])
    run, _ = new_run(out, submissions(tmp_path / "other", ann="a"))
    grade_all(run)
    assert list(rows(out)) == ["ann"]
    assert (out / kept.FOLDER / "bob.json").exists() and (out / "feedback" / "bob.html").exists()
    assert "1 kept result(s) of students not in this input left out of grades.csv" in run.note()


def test_a_grading_error_of_the_grader_is_in_grades_csv_but_not_kept(tmp_path):
    out = tmp_path / "out"
    given = submissions(tmp_path / "in", ann="a")
    grade_all(new_run(out, given)[0], status="grading error (worker exit -9)")
    assert rows(out)["ann"]["status"] == "grading error (worker exit -9)"
    assert not (out / kept.FOLDER / "ann.json").exists()
    assert len(new_run(out, given)[0].todo) == 1


def test_a_stopped_run_writes_the_finished_rows_or_leaves_the_old_files(tmp_path):
    out = tmp_path / "out"
    given = submissions(tmp_path / "in", ann="a", bob="b", cy="c")
    grade_all(new_run(out, given[:1])[0])  # an earlier run graded ann only
    before = (out / "grades.csv").read_text()
    run, said = new_run(out, given)
    run.finish(KeyboardInterrupt())  # stopped before anything new finished
    assert (out / "grades.csv").read_text() == before
    run, said = new_run(out, given)
    index, submission = run.todo[0]
    result = Result(submission.student, dict(POINTS), dict(POINTS), "smoke", "ok")
    result.feedback = report.write_feedback(out / "feedback", result)
    run.done(index, result)
    run.finish(KeyboardInterrupt())
    assert list(rows(out)) == ["ann", "bob"]
    assert said[-1].startswith("stopped: 1 submission(s) graded in this run") and "1 not graded yet" in said[-1]
    assert "cy" in said[-1] and len(new_run(out, given)[0].todo) == 1


def test_a_record_is_reused_only_with_its_feedback_page_and_partial_files_are_removed(tmp_path):
    out = tmp_path / "out"
    given = submissions(tmp_path / "in", ann="a", bob="b")
    grade_all(new_run(out, given)[0])
    record = json.loads((out / kept.FOLDER / "ann.json").read_text())
    assert record["result"]["feedback"] == "feedback/ann.html" and record["key"]["submission"] == keys.file_digest(
        tmp_path / "in" / "ann.ipynb"
    )
    (out / "feedback" / "bob.html").unlink()
    (out / kept.FOLDER / ".cy.json.x1y2.partial").write_text("{")  # a run killed while writing
    (out / ".grades.csv.z.partial").write_text("student")
    run, _ = new_run(out, given)
    assert [submission.student for _, submission in run.todo] == ["bob"]
    assert not list(out.rglob("*.partial"))
    moved = tmp_path / "moved"
    out.rename(moved)  # records point at pages inside the folder
    assert kept.load(moved)["ann"].result.feedback == moved / "feedback" / "ann.html"


def test_the_data_and_the_code_enter_the_key(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train-volume.tif").write_bytes(b"1")
    monkeypatch.setenv("UNET_DATA_DIR", str(tmp_path / "data"))
    first = keys.grading_key("smoke", {"epochs": 2}, {"timeout": 30})
    assert set(first) == set(KEY) and first == keys.grading_key("smoke", {"epochs": 2}, {"timeout": 30})
    (tmp_path / "data" / "train-volume.tif").write_bytes(b"2")
    assert keys.grading_key("smoke", {"epochs": 2}, {"timeout": 30})["data"] != first["data"]
    before = keys.data_digest()
    (tmp_path / "data" / "notes.txt").write_text("not read by the kernels")
    assert keys.data_digest() == before
    assert keys.grading_key("smoke", {"epochs": 3}, {"timeout": 30})["policy"] != first["policy"]
    assert keys.grading_key("smoke", {"epochs": 2}, {"timeout": 31})["settings"] != first["settings"]
    monkeypatch.setattr(keys, "CODE_FOLDERS", ("autograder", "tests"))
    assert keys.grader_digest() != first["grader"]


HOLDER = textwrap.dedent("""
    import sys, time
    from autograder.grading import lock
    with lock.hold(sys.argv[1], "the folder"):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def hold_elsewhere(path, seconds):
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_run_waits_for_the_lock_then_says_who_holds_it(tmp_path):
    path = tmp_path / "out" / lock.LOCK_NAME
    holder = hold_elsewhere(path, 30)
    try:
        said, started = [], time.monotonic()
        with pytest.raises(lock.Busy) as busy, lock.hold(path, "the output folder out", wait=1.0, log=said.append):
            pass
        assert 1.0 <= time.monotonic() - started < 5
        assert f"pid {holder.pid} on " in str(busy.value) and "started 20" in str(busy.value)
        assert "waited 1 s" in str(busy.value) and "waiting up to 1 s" in said[0]
    finally:
        holder.kill()
        holder.wait()
    released, again = lock.hold(path, "the output folder out", wait=0), lock.hold(path, "the output folder out", wait=0)
    with released, again:  # released when its holder died; re-entrant
        assert json.loads(path.read_text())["pid"] == os.getpid()


def test_the_lock_is_taken_once_free(tmp_path):
    path = tmp_path / lock.LOCK_NAME
    holder = hold_elsewhere(path, 1.5)
    started = time.monotonic()
    with lock.hold(path, "the folder", wait=30, log=lambda line: None):
        assert time.monotonic() - started >= 1.0
    holder.wait()


def test_grade_on_a_held_output_folder_exits_3_and_writes_nothing(tmp_path, capsys):
    folder = submissions(tmp_path / "in", ann="{}")[0].path.parent
    holder = hold_elsewhere(tmp_path / "out" / lock.LOCK_NAME, 30)
    try:
        code = main(["grade", str(folder), "--out", str(tmp_path / "out"), "--lock-wait", "0.5", "--mode", "smoke"])
    finally:
        holder.kill()
        holder.wait()
    assert code == lock.BUSY_EXIT == 3
    err = capsys.readouterr().err
    assert f"the output folder {tmp_path / 'out'} is in use by another grading run (pid {holder.pid} on" in err
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [lock.LOCK_NAME]


def test_sigterm_raises_as_ctrl_c_does_and_gives_the_shells_status():
    with pytest.raises(KeyboardInterrupt) as stop, stopping.stoppable():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert isinstance(stop.value, stopping.Interrupted) and stopping.exit_status(stop.value) == 143
    assert stopping.exit_status(KeyboardInterrupt()) == 130
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    with stopping.shielded():
        os.kill(os.getpid(), signal.SIGINT)  # held off while a stop cleans up
        time.sleep(0.1)
