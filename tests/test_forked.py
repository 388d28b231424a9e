"""Tests of autograder/grading/forked.py: a grading worker forked from the fork server is what a fresh
``python -m autograder.grading.worker`` would be (the job's environment and no other, a session of its own, its
output in its log, PyTorch at the job's thread count), can be waited for and killed as a subprocess, and ends
with its grader; where no fork server can be used the subprocess grades the same."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from autograder.grading import batch, forked, grade
from autograder.grading.submissions import find_submissions
from tests import forked_stand_ins
from tests.catalogue import Variant, write
from tests.test_lifecycle import left_behind
from tests.test_processes import alive

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_a_forked_worker_has_the_jobs_environment_its_own_session_and_its_log(tmp_path, monkeypatch):
    """The job's environment replaces the grader's; TMPDIR, the working folder and the torch threads follow it."""
    monkeypatch.setenv("UNET_GRADERS_OWN", "not for the worker")  # if the fork server starts now, it has this
    (tmp_path / "tmp").mkdir()
    env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "3", "TMPDIR": str(tmp_path / "tmp"), "UNET_SEED": "7"}
    job, log = tmp_path / "job.json", tmp_path / "worker.log"
    process = forked.start(job, env, log, tmp_path, main=forked_stand_ins.report)
    assert process.wait(timeout=120) == 3 and process.returncode == 3, "the exit status is what main returned"
    seen = json.loads(job.read_text())
    assert seen["env"] == env, f"the worker's environment should be the job's only, got {seen['env']}"
    assert seen["session_leader"], "the worker should lead a session of its own (killed as one group)"
    assert seen["threads"] == 3, f"torch should run at the job's OMP_NUM_THREADS (3), got {seen['threads']}"
    assert seen["tempdir"] == str(tmp_path / "tmp"), f"temporary files go to the job's TMPDIR, got {seen['tempdir']}"
    assert seen["cwd"] == str(tmp_path)
    assert seen["parent"] == seen["ppid"] != os.getpid(), "the worker's parent is the fork server, not the grader"
    assert log.read_text().splitlines() == ["a line on stdout", "a line on stderr"]


def test_a_forked_worker_is_waited_for_and_killed_as_a_subprocess(tmp_path):
    """wait(timeout) raises TimeoutExpired while it runs; the grader's kill ends it and its status says so."""
    job = tmp_path / "job.json"
    process = forked.start(
        job, {"PATH": "/usr/bin:/bin"}, tmp_path / "log", tmp_path, main=forked_stand_ins.wait_for_the_end
    )
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(timeout=0.5)
    grade._kill(process)
    assert process.returncode == -signal.SIGKILL and not alive(process.pid)


GRADER = """
import pathlib, time
from autograder.grading import forked
from tests import forked_stand_ins
job = pathlib.Path({job!r})
forked.start(job, {{"PATH": "/usr/bin:/bin"}}, {log!r}, {cwd!r}, main=forked_stand_ins.wait_for_the_end)
while not job.exists() or not job.read_text():
    time.sleep(0.05)
print("ready", job.read_text(), flush=True)
time.sleep(120)
"""


def test_a_forked_worker_ends_with_its_grader_killed_by_sigkill(tmp_path):
    """SIGKILL leaves the grader no time to stop its workers: the fork server ends with it, and the worker with
    the fork server (PR_SET_PDEATHSIG, as worker.main arms it)."""
    code = GRADER.format(job=str(tmp_path / "job"), log=str(tmp_path / "log"), cwd=str(tmp_path))
    grader = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    ready, worker_pid = grader.stdout.readline().split()
    worker_pid = int(worker_pid)
    try:
        assert ready == "ready" and alive(worker_pid)
        grader.kill()
        grader.wait()
        deadline = time.monotonic() + 10
        while alive(worker_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(worker_pid), "the forked worker outlived its grader"
    finally:
        if alive(worker_pid):  # a failed test leaves nothing running
            os.kill(worker_pid, signal.SIGKILL)


def test_no_fork_server_in_a_daemonic_process(monkeypatch):
    """A daemonic process (a Dask worker's) may have no children of multiprocessing's: the subprocess is used."""
    assert forked.available()
    monkeypatch.setattr(forked.multiprocessing.current_process(), "daemon", True)
    assert not forked.available()


@pytest.mark.slow
def test_the_subprocess_worker_grades_as_the_forked_one(tmp_path, monkeypatch, data_env):
    """Where no fork server can be used, ``python -m autograder.grading.worker`` gives the same row."""
    for name, value in data_env.items():  # the real data, or the stand-in (whose loader conftest.py names)
        monkeypatch.setenv(name, value)
    write(Variant("reference"), tmp_path / "in")
    rows = {}
    for way, can_fork in (("forked", True), ("subprocess", False)):
        monkeypatch.setattr(forked, "available", lambda can_fork=can_fork: can_fork)
        grader = batch.Grader(tmp_path / way, "smoke", sandbox=False, sandbox_reason="off", log=lambda line: None)
        (result,) = grader.grade(find_submissions([tmp_path / "in"]))
        rows[way] = (result.scores, result.status, result.total)
    assert rows["forked"] == rows["subprocess"] and rows["forked"][2] == 100, rows


EXITING_GRADER = """
from autograder.grading import forked
from tests import forked_stand_ins
forked.start({job!r}, {{"PATH": "/usr/bin:/bin"}}, {log!r}, {cwd!r}, main=forked_stand_ins.report).wait(120)
"""


def test_a_grader_that_exits_leaves_no_fork_server_behind(tmp_path):
    """At its exit the grader stops the fork server and multiprocessing's resource tracker and waits for them: none
    of its processes, and nothing in its TMPDIR, is left once it has gone (the lifecycle tests look at once)."""
    work = tmp_path / "w"  # the grader's TMPDIR, which the fork server and the resource tracker inherit
    work.mkdir()
    code = EXITING_GRADER.format(job=str(tmp_path / "job"), log=str(tmp_path / "log"), cwd=str(tmp_path))
    finished = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env={**os.environ, "TMPDIR": str(work)}, timeout=300
    )
    assert finished.returncode == 0 and (tmp_path / "job").exists(), "the worker should have run"
    assert left_behind(work) == {"files": [], "mounts": [], "processes": []}
