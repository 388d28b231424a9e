"""Every process a grading started, found and stopped: what holds when a kernel runs without the sandbox.

In the sandbox a kernel's processes end with its pid namespace and its cgroup (``kernel.py``). Without it, a
kernel is started by jupyter_client in a session of its own, outside the grading worker's process group, and a
submission's code may start more (a double-forked daemon leaves its parent at once). So the grading worker
makes itself a *child subreaper* (Linux's ``PR_SET_CHILD_SUBREAPER``): every orphan below it becomes its child
instead of init's, and stays in its tree. When the worker is done (``stop_descendants``) or is stopped by the
grader (``kill_tree``), its whole tree is frozen (SIGSTOP: no more forks) and killed, so no kernel keeps writing
into a course folder while the grader removes it. A worker whose grader dies, even by SIGKILL, does the same and
exits (``end_with_parent``).

In: a process id. Out: its descendants (from /proc), stopped and killed. Elsewhere than Linux, only the
process group is killed (``kill_tree``), as before.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pathlib
import signal
import time

PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1
ROUNDS = 50  # scans while freezing a tree that forks: each round stops what it finds


def _prctl(option: int, value: int) -> bool:
    """Linux's prctl(option, value) on this process; False where the system has no such call or option."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def become_subreaper() -> bool:
    """Make this process the subreaper of everything it starts; False where the system has none."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def end_with_parent(parent: int) -> bool:
    """Stop everything below this process (a grading worker) and exit when `parent` (the grader) dies, even by
    SIGKILL, which leaves the grader no time to stop its workers: Linux's PR_SET_PDEATHSIG sends this process
    SIGTERM then, and SIGTERM here stops the whole tree below it and exits with 143. If `parent` is gone already,
    that happens now. False where the system has no PR_SET_PDEATHSIG (SIGTERM still stops the tree)."""

    def end(signum, frame):
        stop_descendants()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, end)
    armed = _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the signal was armed
        end(signal.SIGTERM, None)
    return armed


def parents() -> dict[int, int]:
    """{pid: its parent's pid} of every process this one can see in /proc ({} without /proc)."""
    found = {}
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone since listed
            continue
        fields = text[text.rfind(")") + 2 :].split()  # the command name, in (), may hold spaces
        found[int(stat.parent.name)] = int(fields[1])
    return found


def descendants(pid: int) -> list[int]:
    """The processes below `pid` (children, their children, ...), parents first."""
    children: dict[int, list[int]] = {}
    for child, parent in parents().items():
        children.setdefault(parent, []).append(child)
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(0), []):
            found.append(child)
            queue.append(child)
    return found


def kill_tree(pid: int, include_self: bool = True) -> list[int]:
    """Freeze `pid` and everything below it, then kill them all; returns the pids killed. Also kills
    `pid`'s process group, which is all there is to kill where /proc is missing."""
    frozen: list[int] = [pid] if include_self else []
    if include_self:
        _signal(pid, signal.SIGSTOP)
    for _ in range(ROUNDS):
        new = [child for child in descendants(pid) if child not in frozen]
        if not new:
            break
        for child in new:
            _signal(child, signal.SIGSTOP)
        frozen += new
    for target in frozen:
        _signal(target, signal.SIGKILL)
    if include_self:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    return frozen


def stop_descendants(wait: float = 5.0) -> list[int]:
    """Kill every process below this one and reap them as they become its children (a subreaper adopts the
    orphans), waiting up to `wait` seconds for the last to go; returns the pids killed."""
    killed = kill_tree(os.getpid(), include_self=False)
    deadline = time.monotonic() + wait
    while True:
        reap()
        if not descendants(os.getpid()) or time.monotonic() > deadline:
            return killed
        time.sleep(0.02)


def reap() -> None:
    """Collect the exit status of every child that has ended (a subreaper's adopted orphans among them)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _signal(pid, number):
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, number)
