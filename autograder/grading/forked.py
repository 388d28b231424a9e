"""Grading workers forked from a process that has already imported what they use.

In: a job file, the worker's environment and its log file. Out: a running worker (``ForkedWorker``), which
``grade.py`` waits for and kills as it would a ``subprocess.Popen``.

Each worker would otherwise spend about 2 s of CPU importing nbgrader, nbconvert, PyTorch and scikit-image before
it grades anything: a tenth of a complete submission's time. Python's multiprocessing "forkserver" imports them once
(``warm.py``), in a process of its own (the grader itself never imports torch), and forks every worker from it.
Each forked worker is what ``python -m autograder.grading.worker JOB`` would be: in a session of its own, its output
in its log, the job's environment and no other, PyTorch at the job's thread count, and ending with its parent (the
fork server, which ends with the grader).

Where a fork server cannot start (a daemonic process, such as a Dask worker; a system without one), ``available``
is False and ``grade.py`` starts ``python -m autograder.grading.worker`` as a subprocess, as before. As for any
multiprocessing start method but "fork", a script that grades through ``Grader`` guards its entry point with
``if __name__ == "__main__":`` (the ``unet-course`` command and ``python -m autograder`` do): each forked worker
imports the script's main module first.
"""

from __future__ import annotations

import atexit
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.resource_tracker
import os
import subprocess
import sys
import tempfile
import threading

PRELOAD = ["autograder.grading.warm"]
_context = None
_lock = threading.Lock()  # the grader's threads start workers at once


def available() -> bool:
    """Whether workers can be forked here: a fork server exists on this system and this process may have children."""
    return "forkserver" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon


def prepare() -> None:
    """Start the fork server now, where it can be, so that its imports overlap the course's set-up rather than
    delay the first worker."""
    if available():
        _fork_server()
        multiprocessing.forkserver.ensure_running()


def grade(job_path: str, parent: int) -> int:
    """A forked worker's work: ``worker.main`` on the job, ending with `parent` (the fork server)."""
    from autograder.grading import worker

    return worker.main(job_path, parent=parent)


def start(job_path: str, env: dict[str, str], log_path: str, cwd: str, main=grade) -> ForkedWorker:
    """Fork a worker that runs ``main(job_path, parent)`` (a module-level function; by default ``grade``) in the
    job's environment, writing to `log_path`; returns it, started."""
    process = _fork_server().Process(
        target=_run, args=(main, str(job_path), dict(env), str(log_path), str(cwd)), daemon=False
    )
    process.start()
    return ForkedWorker(process)


def _fork_server() -> multiprocessing.context.BaseContext:
    """The fork server's context, its preload set (the server itself starts with the first worker, or prepare())."""
    global _context
    with _lock:
        if _context is None:
            _context = multiprocessing.get_context("forkserver")
            _context.set_forkserver_preload(PRELOAD)
            atexit.register(stop)
        return _context


def stop() -> None:
    """Stop the fork server and multiprocessing's resource tracker, where this process started them, and wait for
    both to end, so that a grader leaves no process behind it (run at exit; without it they end a moment after the
    grader, on their own). multiprocessing's own way to stop them: close the pipe each lives on, then wait."""
    for helper in (multiprocessing.forkserver._forkserver, multiprocessing.resource_tracker._resource_tracker):
        stop_helper = getattr(helper, "_stop", None)
        if stop_helper is not None:
            stop_helper()


class ForkedWorker:
    """A forked worker seen as a ``subprocess.Popen``: its pid, ``wait(timeout)`` and ``returncode``."""

    def __init__(self, process: multiprocessing.Process):
        self._process = process
        self.pid = process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired("autograder.grading.worker", timeout)
        return self._process.exitcode


def _run(main, job_path: str, env: dict[str, str], log_path: str, cwd: str) -> None:
    """In the forked worker: become what a fresh ``python -m autograder.grading.worker JOB`` would be, then run
    `main`; its return value is the exit status."""
    os.setsid()  # a session of its own, as start_new_session gives a subprocess: killed as one group
    _let_the_fork_server_end_with_the_grader()
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for stream in (1, 2):
        os.dup2(log, stream)
    os.close(log)
    os.environ.clear()
    os.environ.update(env)  # what the kernel inherits, and what the worker reads: the job's settings only
    os.chdir(cwd)
    tempfile.tempdir = None  # the job's TMPDIR, not the fork server's
    if env.get("OMP_NUM_THREADS"):  # PyTorch read it when the fork server imported it
        import torch

        torch.set_num_threads(int(env["OMP_NUM_THREADS"]))
    sys.exit(main(job_path, os.getppid()))


def _let_the_fork_server_end_with_the_grader() -> None:
    """multiprocessing gives every forked child the write end of the fork server's "alive" pipe, so that the server
    lives until its last child ends. A worker that kept it would keep the server alive after a SIGKILLed grader, and
    itself with it (it ends with the server: worker.main). Closed here, the pipe ends with the grader alone."""
    server = multiprocessing.forkserver._forkserver
    if getattr(server, "_forkserver_alive_fd", None) is not None:
        os.close(server._forkserver_alive_fd)
        server._forkserver_alive_fd = None
