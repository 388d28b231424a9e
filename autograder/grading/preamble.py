"""The code every grading kernel runs before the notebook's first cell: seeds, and a cap on what each cell prints.

``grade.py`` puts ``preamble(max_output_bytes)`` in each job; the worker (``worker.py``) hands it to the kernel as
IPython's ``exec_lines``.
"""

from __future__ import annotations

import base64

# Run in every kernel before the notebook's first cell (see preamble()): seeds, so that a submission's row never
# changes, and a cap on what each cell may print, applied inside the kernel so that 200 MB of print() never
# travels to the grader as one message (the grader's own cap in GradingExecute is the second line of defence).
PREAMBLE = """
import random, sys
import numpy, torch
random.seed(0); numpy.random.seed(0); torch.manual_seed(0)

def _grader_output_cap(limit):
    left = [limit, True]                   # bytes this cell may still print; whether to say so when it stops
    def capped(write):
        def write_at_most(text):
            room = left[0]
            left[0] -= len(text)
            if left[0] >= 0:
                return write(text)
            if left[1]:
                left[1] = False
                write(text[:max(room, 0)] + "\\n... output truncated by the grader ...\\n")
            return len(text)
        write_at_most.grader_cap = True
        return write_at_most
    def before_each_cell(*args):           # IPython wraps write() itself: wrap whatever is there now
        left[:] = [limit, True]
        for stream in (sys.stdout, sys.stderr):
            if not getattr(stream.write, "grader_cap", False):
                stream.write = capped(stream.write)
    get_ipython().events.register("pre_run_cell", before_each_cell)

_grader_output_cap({limit})
del _grader_output_cap
"""


def preamble(max_output_bytes: int) -> str:
    """The preamble as one line for IPython's exec_lines (a kernel command-line argument)."""
    code = PREAMBLE.replace("{limit}", str(max(0, int(max_output_bytes) - 1000)))  # room for the notice
    return f"import base64; exec(base64.b64decode({base64.b64encode(code.encode()).decode()!r}).decode())"
