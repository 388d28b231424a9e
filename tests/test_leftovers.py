"""One batch through the ways in, graded end to end by the command line (smoke mode, without the sandbox, where
nothing but the grader's own process handling stops what a kernel starts), and what it leaves behind, measured:

* a Canvas zip with a 10 GiB entry (about 10 MB zipped) beside two honest notebooks, a zip of 100,000 empty
  entries, a 500 MB notebook (a sparse file) and a link, given together with a folder of notebooks;
* in that folder, a submission whose code leaves a daemon that writes a file into its folder every 20 ms (and
  goes on when the folder is gone), and
  one whose kernel is killed from outside (SIGKILL, by this test) while it runs.

The refused files get their rows, the others are graded as before, the grader's peak resident memory (its own
process, measured: tests/bombs.py) stays under 1 GB, and once the batch is over no process of it is left and
its temporary folder (TMPDIR) is empty.
"""

import csv
import os
import pathlib
import signal
import threading
import time

import pytest

from autograder import assignment
from tests import bombs
from tests.catalogue import TRAINING, UNET, Variant, _code, expected_scores, extra_cell_after, named, write

pytestmark = pytest.mark.slow
POINTS = assignment.points()
MARKER = "unet-leftover-daemon"
DAEMON = """
import os, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        writer = ("import os, time\\nwhile True:\\n    try:\\n"            # it outlives its folder, if let
                  "        open('left-%d' % time.monotonic_ns(), 'w').close()\\n"
                  "    except OSError:\\n        pass\\n    time.sleep(0.02)")
        os.execv(sys.executable, [sys.executable, "-c", writer, MARKER])
    os._exit(0)
os.wait()
print("a daemon is writing")
"""
KILLED = """
import os, pathlib, time
pathlib.Path(PIDFILE).write_text(str(os.getpid()))
time.sleep(100)
"""


def living(work: pathlib.Path) -> list[str]:
    """The processes (not zombies) that run from under `work` or name the daemon's marker."""
    found = []
    for proc in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            state = next(line for line in (proc / "status").read_text().splitlines() if line.startswith("State:"))
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except (OSError, StopIteration):
            continue
        if "Z" not in state.split()[1] and (MARKER in command or cwd.startswith(str(work))):
            found.append(f"{proc.name}: {command[:120]} (in {cwd})")
    return found


class Killer(threading.Thread):
    """Kills the process whose pid a kernel writes into `pidfile`, as soon as it appears."""

    def __init__(self, pidfile):
        super().__init__(daemon=True)
        self.pidfile, self.killed, self.running = pidfile, [], True

    def run(self):
        while self.running and not self.killed:
            if self.pidfile.exists() and self.pidfile.read_text().strip():
                pid = int(self.pidfile.read_text())
                os.kill(pid, signal.SIGKILL)
                self.killed.append(pid)
            time.sleep(0.1)


@pytest.fixture(scope="module")
def batch(data_env, tmp_path_factory):
    root = tmp_path_factory.mktemp("doors")
    work, folder, staging = root / "tmp", root / "in", root / "staging"
    work.mkdir()
    pidfile = root / "killed.pid"
    daemon = Variant("leftover_daemon", edit=extra_cell_after("crop", _code(DAEMON.replace("MARKER", repr(MARKER)))))
    killed = Variant(
        "leftover_killed",
        fails=(*UNET, TRAINING),
        status="kernel died in student-1-after-feature-test",
        edit=extra_cell_after("test_feature_map_block", _code(KILLED.replace("PIDFILE", repr(str(pidfile))))),
    )
    correct, broken = named("reference"), named("avgpool+nearest_upsample")
    for variant in (daemon, killed):
        write(variant, folder)
    for variant in (correct, broken):
        write(variant, staging)
    canvas = bombs.write_zip(
        root / "canvas.zip",
        [
            bombs.zeros("smithjane_12345_67890_UNet_Assignment.ipynb", 10 * bombs.GiB),
            bombs.Entry.stored("doejohn_23456_78901_UNet_Assignment.ipynb", (staging / correct.file()).read_bytes()),
            bombs.Entry.stored("wuli_34567_78902_UNet_Assignment.ipynb", (staging / broken.file()).read_bytes()),
        ],
    )
    many = bombs.empty_entries(root / "many.zip", 100_000)
    bombs.sparse(folder / "zoe.ipynb", 500 * 10**6)
    (folder / "link.ipynb").symlink_to("/etc/passwd")
    killer = Killer(pidfile)
    killer.start()
    run = bombs.grade(
        [
            "grade",
            canvas,
            many,
            folder,
            "--out",
            root / "out",
            "--mode",
            "smoke",
            "--sandbox",
            "off",
            "--workers",
            "2",
            "--export",
            "canvas",
        ],
        root / "report.json",
        {**data_env, "TMPDIR": str(work)},
    )
    killer.running = False
    print(run["stdout"][-3000:], run["stderr"][-3000:])
    time.sleep(0.5)  # a daemon left behind would have written again by now
    with open(root / "out" / "grades.csv", newline="") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    return {
        "run": run,
        "rows": rows,
        "out": root / "out",
        "killed": killer.killed,
        "left": sorted(str(path.relative_to(work)) for path in work.rglob("*")),
        "living": living(work),
        "graded": {
            "doejohn_23456": correct,
            "wuli_34567": broken,
            "leftover_daemon": daemon,
            "leftover_killed": killed,
        },
    }


REFUSED = {
    "smithjane_12345": "too large: 10.0 GiB, the limit is 20 MB",
    "many": "a zip of 100000 entries, the limit is 10000",
    "zoe": "too large: 500 MB, the limit is 20 MB",
    "link": "not a regular file: a symbolic link",
}


def test_each_refused_file_gets_its_row_and_feedback_with_the_reason(batch):
    assert batch["run"]["result"] == 0, batch["run"]["stderr"][-2000:]
    for student, reason in REFUSED.items():
        row = batch["rows"][student]
        assert row["status"] == reason and float(row["total"]) == 0, row
        assert reason in (batch["out"] / "feedback" / f"{student}.html").read_text()


def test_the_other_submissions_are_graded_as_before(batch):
    assert sorted(batch["rows"]) == sorted([*REFUSED, *batch["graded"]])
    for student, variant in batch["graded"].items():
        row = batch["rows"][student]
        assert {test: float(row[test]) for test in POINTS} == {
            test: float(points) for test, points in expected_scores(variant, POINTS).items()
        }, row["status"]
        assert row["status"].startswith(variant.status) and row["status"].endswith("; no sandbox (--sandbox off)")
    assert "a daemon is writing" in (batch["out"] / "feedback" / "leftover_daemon.html").read_text()


def test_the_graders_peak_memory_stays_under_1_gb(batch):
    peak = batch["run"]["peak_bytes"]
    print(f"the grader's peak resident memory: {peak / 1e6:.0f} MB over {batch['run']['seconds']:.0f} s")
    assert peak < 10**9


def test_no_process_and_no_scratch_file_outlives_the_batch(batch):
    """After success, and after a kernel killed from outside: no kernel, no daemon, nothing in TMPDIR."""
    assert batch["killed"], "the kernel to kill never wrote its pid: this test would mean nothing"
    assert batch["living"] == []
    assert batch["left"] == []
