"""What a grading worker starts never outlives it (autograder/sandbox/processes.py), on real process trees: a
stand-in worker starts a "kernel" in a session of its own (as jupyter_client does), which double-forks a daemon.
Killing the worker's process group, as the grader did before, leaves the kernel and the daemon running; the
subreaper and the tree kill leave nothing. (tests/test_leftovers.py checks the same after a real batch.)
"""

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from autograder.sandbox import processes

pytestmark = pytest.mark.skipif(not pathlib.Path("/proc/self/stat").exists(), reason="needs Linux's /proc")

# The stand-in worker: optionally a subreaper; starts the kernel (a new session) that leaves a daemon; says
# "ready" once the daemon runs; then ends by itself ("end": as a worker that finished) or waits to be killed.
WORKER = """
import os, subprocess, sys, time
sys.path.insert(0, {root!r})
from autograder.sandbox import processes
if {subreaper}:
    processes.become_subreaper()
if {with_parent}:
    processes.end_with_parent(os.getppid())
marker = {reversed!r}[::-1]                  # not in this process's own command line
kernel = ("import os, sys, time\\n"
          "if os.fork() == 0:\\n"
          "    os.setsid()\\n"
          "    if os.fork() == 0:\\n"
          "        os.execv('/bin/sleep', [%r + ':daemon', '300'])\\n"
          "    os._exit(0)\\n"
          "os.wait()\\n"
          "time.sleep(300)\\n") % marker
subprocess.Popen([sys.executable, "-c", kernel, marker + ":kernel"], start_new_session=True)
def running():
    count = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            count += marker.encode() in open(f"/proc/{{pid}}/cmdline", "rb").read()
        except OSError:
            pass
    return count
for _ in range(200):
    if running() >= 2:
        break
    time.sleep(0.05)
print("ready", flush=True)
if {end}:
    processes.stop_descendants()
else:
    time.sleep(300)
"""


def marked(marker):
    """pids of the living processes (not zombies) whose command line holds `marker`."""
    found = []
    for proc in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            if marker.encode() in (proc / "cmdline").read_bytes() and " Z " not in (proc / "stat").read_text():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@pytest.fixture
def marker(tmp_path):
    name = f"unet-tree-{os.getpid()}-{tmp_path.name}"
    yield name
    for pid in marked(name):  # whatever a failed test left
        os.kill(pid, signal.SIGKILL)


def worker_code(marker, subreaper, end, with_parent=False):
    root = str(pathlib.Path(__file__).resolve().parent.parent)
    return WORKER.format(root=root, reversed=marker[::-1], subreaper=subreaper, end=end, with_parent=with_parent)


def start(marker, subreaper, end):
    worker = subprocess.Popen(
        [sys.executable, "-c", worker_code(marker, subreaper, end)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert worker.stdout.readline().strip() == "ready"
    assert len(marked(marker)) == 2, "the kernel and its daemon must run for the test to mean anything"
    return worker


def settled(marker, seconds=3.0):
    deadline = time.monotonic() + seconds
    while marked(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    return marked(marker)


def test_killing_the_workers_process_group_alone_leaves_the_kernel_and_its_daemon(marker):
    worker = start(marker, subreaper=False, end=False)
    os.killpg(worker.pid, signal.SIGKILL)  # the grader's way before processes.kill_tree
    worker.wait()
    assert len(settled(marker, 1.0)) == 2


def test_the_grader_killing_a_worker_kills_its_whole_tree(marker):
    worker = start(marker, subreaper=True, end=False)
    processes.kill_tree(worker.pid)
    worker.wait()
    assert settled(marker) == []


def test_a_worker_that_ends_takes_its_kernel_and_daemon_with_it(marker):
    worker = start(marker, subreaper=True, end=True)
    assert worker.wait(timeout=30) == 0
    assert settled(marker) == []


def test_descendants_are_found_below_a_process():
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert child.pid in processes.descendants(os.getpid())
        assert processes.parents()[child.pid] == os.getpid()
    finally:
        child.kill()
        child.wait()


# The stand-in grader: starts the stand-in worker (a subreaper that ends with its parent), says "ready" with the
# worker's pid once the worker's kernel and daemon run, then waits to be killed.
GRADER = """
import subprocess, sys
worker = subprocess.Popen([sys.executable, "-c", {worker!r}], stdout=subprocess.PIPE, text=True, start_new_session=True)
print(worker.stdout.readline().strip(), worker.pid, flush=True)
worker.wait()
"""


def alive(pid):
    try:
        return " Z " not in pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False


def test_a_grader_killed_by_sigkill_takes_its_workers_and_their_kernels_with_it(marker):
    """SIGKILL leaves the grader no time to stop its workers; each worker ends with its parent (PR_SET_PDEATHSIG)
    and stops its kernel and the daemon the kernel left."""
    worker = worker_code(marker, subreaper=True, end=False, with_parent=True)
    grader = subprocess.Popen(
        [sys.executable, "-c", GRADER.format(worker=worker)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    ready, worker_pid = grader.stdout.readline().split()
    worker_pid = int(worker_pid)
    try:
        assert ready == "ready" and alive(worker_pid)
        assert len(marked(marker)) == 2, "the kernel and its daemon must run for the test to mean anything"
        grader.kill()
        grader.wait()
        assert settled(marker) == []
        deadline = time.monotonic() + 3
        while alive(worker_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(worker_pid), "the worker outlived its grader"
    finally:
        if alive(worker_pid):  # a failed test leaves nothing running
            os.kill(worker_pid, signal.SIGKILL)
