"""A grading run stopped cleanly: Ctrl-C (SIGINT), SIGTERM and SIGHUP as one exception in the main thread, and
blocks that finish what they started whatever signal comes.

Python raises KeyboardInterrupt on Ctrl-C, but SIGTERM (``kill``, a scheduler's stop, a shutdown) and SIGHUP (a
closed terminal) end the process at once, leaving its kernels running and its scratch behind. ``stoppable()``
makes them raise ``Interrupted`` (a KeyboardInterrupt), so that one ``except BaseException`` stops the kernels
and keeps what was graded; ``shielded()`` holds every such signal off while that cleanup runs. The command line
exits with ``exit_status``: 130 after Ctrl-C, 143 after SIGTERM.
"""

from __future__ import annotations

import contextlib
import signal
import threading


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP stopped the batch (as Ctrl-C's KeyboardInterrupt does); `signum` says which."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_status(stop: BaseException) -> int:
    """The shell's status for a run stopped by `stop`: 128 + the signal's number (130 for Ctrl-C)."""
    return 128 + getattr(stop, "signum", signal.SIGINT)


@contextlib.contextmanager
def stoppable():
    """For the block, SIGTERM and SIGHUP raise Interrupted in the main thread, as Ctrl-C raises KeyboardInterrupt,
    so that the batch stops its kernels and keeps what it graded (the default would end the process at once)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise Interrupted(signum)

    previous = {number: signal.signal(number, interrupt) for number in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def shielded():
    """For the block, Ctrl-C, SIGTERM and SIGHUP are ignored: a stop's cleanup (killing the kernels, removing their
    scratch, writing the class files) is not itself cut short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {
        number: signal.signal(number, lambda *_: None) for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
