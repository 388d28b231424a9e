"""One grading run at a time per output folder (and per nbgrader course): a lock file held while a run writes.

    OUT/.grading.lock                  held by the run writing OUT (grades.csv, results/, feedback/, ...)
    COURSE/.grading-NAME.lock          held by ``grade --course COURSE --assignment NAME``

The lock is ``flock`` on the file, which the system releases when its holder exits however it ends (Ctrl-C,
SIGKILL, a reboot): a lock is never stale. Its holder writes who it is into the file (pid, host, start time,
command), so that a second run that waits past its limit (``--lock-wait``, default 60 s) can say who holds it
before it stops with ``Busy`` (the command line's exit status 3). The file itself stays (removing a lock file
while another process waits on it would let two runs in). Within one process the lock is re-entrant: the
command line holds it, and ``Grader.grade`` takes it again for a caller of its own.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import pathlib
import socket
import sys
import threading
import time

LOCK_NAME = ".grading.lock"
DEFAULT_WAIT = 60.0  # seconds a second run waits for the lock before it stops
BUSY_EXIT = 3  # the command line's exit status when a lock stayed held (as a locked gradebook)
_held: dict[pathlib.Path, int] = {}  # lock files this process holds -> how many times
_held_lock = threading.Lock()


class Busy(RuntimeError):
    """Another run held the lock past the wait; the message says who and what to do."""


def course_lock(root: pathlib.Path, assignment: str) -> pathlib.Path:
    """The lock file of an nbgrader course's assignment."""
    return pathlib.Path(root) / f".grading-{assignment}.lock"


def holder(path: pathlib.Path) -> dict:
    """Who holds (or last held) the lock at `path`, as its holder wrote it; {} when unknown."""
    for _ in range(3):  # the holder may be writing it just now
        try:
            text = pathlib.Path(path).read_text(encoding="utf-8")
            if text.strip():
                return json.loads(text)
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    return {}


def describe_holder(info: dict) -> str:
    if not info:
        return "a process that has not said who it is"
    return f"pid {info.get('pid')} on {info.get('host')}, started {info.get('started')}: {info.get('command', '?')}"


@contextlib.contextmanager
def hold(path: pathlib.Path, what: str, wait: float = DEFAULT_WAIT, log=print):
    """Hold the lock file `path` (made if missing) for the block; `what` names what it guards in messages.
    Waits up to `wait` seconds (saying so once), then raises Busy."""
    path = pathlib.Path(path).resolve()
    with _held_lock:
        if path in _held:
            _held[path] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _held_lock:
                _held[path] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")
    try:
        _acquire(handle, path, what, wait, log)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(_me()) + "\n")
        handle.flush()
        with _held_lock:
            _held[path] = 1
        try:
            yield
        finally:
            with _held_lock:
                del _held[path]
    finally:
        handle.close()  # releases the flock


def _acquire(handle, path, what, wait, log):
    deadline = time.monotonic() + max(0.0, wait)
    said = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        info = holder(path)
        if time.monotonic() >= deadline:
            raise Busy(
                f"{what} is in use by another grading run ({describe_holder(info)}); waited {wait:g} s "
                f"(--lock-wait). Nothing was written. Run the same command again once it has finished."
            )
        if not said:
            log(f"{what} is in use by another grading run ({describe_holder(info)}); waiting up to {wait:g} s")
            said = True
        time.sleep(min(0.5, max(0.01, deadline - time.monotonic())))


def _me() -> dict:
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    program = pathlib.Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if program == "__main__.py":  # python -m autograder
        program = f"python -m {pathlib.Path(sys.argv[0]).parent.name}"
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": started,
        "command": " ".join([program, *sys.argv[1:]]),
    }
