"""Interrupted, repeated and concurrent `grade` runs on one output folder, with real kernels: a batch of four smoke-mode
submissions from tests/catalogue.py, stopped with SIGTERM at half and with Ctrl-C (SIGINT) while it prepares,
resumed, graded again after one file changed, and run twice at once. About 2 minutes on 2 cores.

What must hold (autograder/grading/batch.py): a stopped run leaves a readable grades.csv of the students it finished
(or the previous one), no process, sandbox mount or scratch file behind; the same command then grades only what is
missing and ends with the grades.csv of an uninterrupted run; a second run on a held folder waits or says who holds it.
"""

import csv
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest

from autograder.grading import lock
from autograder.reports import kept
from tests.catalogue import CATALOGUE, Variant, write

pytestmark = pytest.mark.slow

BATCH = ("reference", "not_a_notebook", "sigmoid_output+float64_crop", "missing_relu+align_corners_false+retyped_tests")
OPTIONS = ("--mode", "smoke", "--workers", "2", "--timeout", "60", "--sandbox", "auto")


def start(folder, out, env, *extra):
    """`python -m autograder grade` in the background, its output in files beside `out`."""
    log = open(f"{out}.{time.monotonic_ns()}.log", "w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "autograder", "grade", str(folder), "--out", str(out), *OPTIONS, *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **env},
        preexec_fn=as_in_a_terminal,
    )
    process.log = log
    return process


def as_in_a_terminal():
    """Ctrl-C reaches the run as it does a command typed in a terminal: a test run started in the background by a
    shell without job control inherits SIGINT ignored, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def finish(process, timeout=600):
    process.wait(timeout=timeout)
    process.log.seek(0)
    return process.returncode, process.log.read()


def logged(process):
    return pathlib.Path(process.log.name).read_text()


def graded_lines(log):
    """The "[k/n] student: ..." lines of a run's log: one per submission it graded."""
    return re.findall(r"^\[\d+/\d+\] (.+?): ", log, re.MULTILINE)


def wait_for(condition, what, timeout=300):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def records(out):
    return sorted(path.stem for path in (out / kept.FOLDER).glob("*.json")) if (out / kept.FOLDER).exists() else []


def rows(out):
    with open(out / "grades.csv", newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def left_behind(work):
    """What of the grader outlives it in its TMPDIR `work`: files, mounts, and processes that name it."""
    marker = str(work).encode()
    processes = []
    for proc in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            if int(proc.name) != os.getpid() and (
                marker in (proc / "cmdline").read_bytes() or marker in (proc / "environ").read_bytes()
            ):
                processes.append(int(proc.name))
        except (OSError, ValueError):
            pass
    mounts = [line.split()[4] for line in open("/proc/self/mountinfo") if line.split()[4].startswith(str(work))]
    return {"files": sorted(map(str, work.rglob("*"))), "mounts": mounts, "processes": processes}


@pytest.fixture(scope="module")
def batch(data_env, tmp_path_factory):
    folder = tmp_path_factory.mktemp("lifecycle-submissions")
    variants = {variant.name: variant for variant in CATALOGUE}
    students = [write(variants[name], folder) for name in BATCH]
    return {
        "folder": folder,
        "students": students,
        "env": data_env,
        "root": tmp_path_factory.mktemp("lifecycle"),
        "factory": tmp_path_factory,
    }


def scratch(batch, name):
    """A fresh TMPDIR for one run, so that what it leaves behind can be told from anything else's (a short path:
    the sandboxed kernel's sockets live under it, and a Unix socket's path has at most 107 bytes)."""
    work = batch["factory"].mktemp("w")
    return work, {**batch["env"], "TMPDIR": str(work)}


@pytest.fixture(scope="module")
def uninterrupted(batch):
    out = batch["root"] / "uninterrupted"
    work, env = scratch(batch, "uninterrupted")
    code, log = finish(start(batch["folder"], out, env))
    assert code == 0, log
    assert left_behind(work) == {"files": [], "mounts": [], "processes": []}
    return {"out": out, "grades": (out / "grades.csv").read_text(), "log": log}


@pytest.fixture(scope="module")
def interrupted(batch):
    """A run stopped with SIGTERM once half its results are kept, while a second run tries the same folder."""
    out = batch["root"] / "resumed"
    work, env = scratch(batch, "killed")
    first = start(batch["folder"], out, env)
    wait_for(lambda: "to grade" in logged(first), "the plan")
    second_code, second_log = finish(start(batch["folder"], out, batch["env"], "--lock-wait", "0"), timeout=120)
    wait_for(lambda: len(records(out)) >= len(BATCH) // 2, "half the batch")
    first.send_signal(signal.SIGTERM)
    code, log = finish(first, timeout=120)
    return {
        "out": out,
        "code": code,
        "log": log,
        "left": left_behind(work),
        "kept": records(out),
        "rows": rows(out),
        "feedback": sorted(path.stem for path in (out / "feedback").iterdir()),
        "partials": sorted(map(str, out.rglob("*.partial"))),
        "pid": first.pid,
        "second": (second_code, second_log),
    }


def test_sigterm_at_half_stops_the_kernels_and_leaves_the_finished_rows(batch, interrupted, uninterrupted):
    assert interrupted["code"] == 143, interrupted["log"]
    assert "stopped (SIGTERM)" in interrupted["log"] and "stopped: " in interrupted["log"]
    assert interrupted["left"] == {"files": [], "mounts": [], "processes": []}
    assert interrupted["partials"] == []
    kept_now = interrupted["kept"]
    assert len(BATCH) // 2 <= len(kept_now) < len(BATCH), interrupted["log"]
    assert sorted(interrupted["rows"]) == kept_now == interrupted["feedback"]  # no page without its row
    full = rows(uninterrupted["out"])
    for student in kept_now:
        assert interrupted["rows"][student] == full[student]
    missing = [student for student in batch["students"] if student not in kept_now]
    assert f"{len(missing)} not graded yet" in interrupted["log"]
    assert all(name in interrupted["log"] for name in missing)


def test_a_second_run_on_a_held_folder_says_who_holds_it_and_writes_nothing(interrupted):
    code, log = interrupted["second"]
    assert code == lock.BUSY_EXIT, log
    assert f"is in use by another grading run (pid {interrupted['pid']} on " in log and "--lock-wait" in log
    assert "to grade" not in log  # it stopped before reading anything


def test_ctrl_c_while_preparing_leaves_the_files_as_they_were_and_the_same_command_resumes(
    batch, interrupted, uninterrupted
):
    out = interrupted["out"]
    before = (out / "grades.csv").read_text()
    work, env = scratch(batch, "ctrl-c")
    stopped = start(batch["folder"], out, env)
    wait_for(lambda: "to grade" in logged(stopped), "the plan")
    time.sleep(1)
    stopped.send_signal(signal.SIGINT)
    code, log = finish(stopped, timeout=120)
    assert code == 130, log
    assert (out / "grades.csv").read_text() == before
    assert left_behind(work) == {"files": [], "mounts": [], "processes": []}

    work, env = scratch(batch, "resume")
    resumed = start(batch["folder"], out, env)
    wait_for(lambda: "to grade" in logged(resumed), "the plan")
    waiting = start(batch["folder"], out, batch["env"], "--lock-wait", "600")  # starts while the resume holds it
    code, log = finish(resumed)
    assert code == 0, log
    todo = len(BATCH) - len(interrupted["kept"])
    assert (
        f"{todo} of {len(BATCH)} submission(s) to grade ({todo} new); {len(interrupted['kept'])} kept result(s) "
        f"reused" in log
    )
    assert sorted(graded_lines(log)) == sorted(
        student for student in batch["students"] if student not in interrupted["kept"]
    )
    assert (out / "grades.csv").read_text() == uninterrupted["grades"]
    assert left_behind(work) == {"files": [], "mounts": [], "processes": []}
    code, log = finish(waiting)
    assert code == 0 and "waiting up to 600 s" in log and f"0 of {len(BATCH)} submission(s) to grade" in log, log
    assert (out / "grades.csv").read_text() == uninterrupted["grades"]


def test_a_changed_file_alone_is_graded_again_and_the_report_says_which_rows_were_reused(batch, uninterrupted):
    out = uninterrupted["out"]
    changed = batch["students"][2]
    write(Variant(BATCH[2], parts={"crop": ["return image"]}), batch["folder"])  # a resubmission of that student
    work, env = scratch(batch, "changed")
    code, log = finish(start(batch["folder"], out, env))
    assert code == 0, log
    assert f"1 of {len(BATCH)} submission(s) to grade (1 changed: file); {len(BATCH) - 1} kept result(s) reused" in log
    assert graded_lines(log) == [changed]
    assert left_behind(work) == {"files": [], "mounts": [], "processes": []}
    after, before = rows(out), {row["student"]: row for row in csv.DictReader(uninterrupted["grades"].splitlines())}
    assert after[changed] != before[changed]
    assert {name: row for name, row in after.items() if name != changed} == {
        name: row for name, row in before.items() if name != changed
    }
    summary = (out / "summary.html").read_text()
    assert f"1 submission(s) graded in this run; {len(BATCH) - 1} kept from earlier runs (same key): " in summary
