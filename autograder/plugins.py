"""nbgrader preprocessors the grader configures in place of, or beside, nbgrader's own.

* ``GradingExecute`` (autograde): nbgrader's ``Execute`` with a time limit per cell (the training cell has
  its own), a cap on each cell's output applied while the output arrives (so hundreds of MB never pile up
  in memory), and survival of kernel death: the cell that killed the kernel and every later cell get an
  error output, so their tests score zero and the earlier ones keep their scores.
* ``HideTestCode`` (feedback): tracebacks of test cells keep the assert message and the failing line of the
  visible test, never the hidden test's code (``ClearHiddenTests`` clears the cells' source only).
* ``FeedbackBanner`` (feedback): a first cell saying how the notebook was graded (mode, status, repairs).

All outputs the grader adds are error outputs with these names, which ``grade.py`` reads back as the status.
"""
import asyncio
import os
import re

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.preprocessors import Execute
from traitlets import Dict, Integer, List, Unicode

KERNEL_DIED = "KernelDied"
NOT_RUN = "NotRun"
TIMEOUT = "CellTimeoutError"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_FRAME = re.compile(r"^(?:Cell In\s*\[(\d+)\]|Input In \[(\d+)\]), line (\d+)")


def error_output(name, message):
    return nbformat.v4.new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"])


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _is_test(cell):
    nbgrader = cell.get("metadata", {}).get("nbgrader", {})
    return bool(nbgrader.get("grade")) and not nbgrader.get("solution") and cell.cell_type == "code"


class GradingExecute(Execute):
    """nbgrader's Execute, with per-cell time limits, live output caps and kernel-death handling."""

    cell_timeouts = Dict(Integer(), default_value={},
                         help="Time limit in seconds for the cells with these grade_ids (others: `timeout`)."
                         ).tag(config=True)
    max_output_bytes = Integer(2_000_000, help="Output kept per cell; the rest is dropped as it arrives."
                               ).tag(config=True)
    sandbox_uid = Integer(-1, help="Run the kernel with autograder.sandbox's kernel manager for this uid "
                                   "(-1: an ordinary kernel).").tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timeout_func = self._cell_timeout

    def create_kernel_manager(self):
        if self.sandbox_uid >= 0:
            self.kernel_manager_class = AsyncSandboxKernelManager
        return super().create_kernel_manager()

    def _cell_timeout(self, cell):
        return self.cell_timeouts.get(_grade_id(cell), self.timeout)

    def preprocess(self, nb, resources=None, km=None):
        self._stopped = None                          # why later cells are not run, once the kernel is gone
        self._output_bytes = {}
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return cell, resources
        if self._stopped:
            cell.outputs = [error_output(NOT_RUN, self._stopped)]
            return cell, resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            cell.outputs.append(error_output(
                KERNEL_DIED, "the Python kernel died while this cell ran (os._exit, a crash, or out of memory)"))
            self._stopped = f"not run: the kernel died in an earlier cell ({_grade_id(cell) or cell.get('id')})"
        except CellTimeoutError:                      # the interrupt did not stop the cell: end the kernel
            cell.outputs.append(error_output(TIMEOUT, (
                f"this cell ran past its {self._cell_timeout(cell)} s limit and ignored the interrupt; "
                "the kernel was stopped")))
            self._stopped = f"not run: the kernel was stopped after {_grade_id(cell) or cell.get('id')} hung"
            self._shut_down_kernel()
        self.nb.cells[index] = cell
        return cell, resources

    def _shut_down_kernel(self):
        try:
            asyncio.get_event_loop().run_until_complete(self.km.shutdown_kernel(now=True))
        except Exception:                             # noqa: BLE001 (already gone: nothing to do)
            pass

    async def _async_handle_timeout(self, timeout, cell=None):
        self.error_on_timeout = {"ename": TIMEOUT, "evalue": f"this cell ran past its {timeout} s limit and was "
                                 "interrupted", "traceback": [f"{TIMEOUT}: this cell ran past its {timeout} s limit"]}
        return await super()._async_handle_timeout(timeout, cell)

    def output(self, outs, msg, display_id, cell_index):
        size = _message_size(msg)
        used = self._output_bytes.get(cell_index, 0)
        self._output_bytes[cell_index] = used + size
        if used + size <= self.max_output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        if used <= self.max_output_bytes:              # the first message over the cap: keep what fits, say so
            if msg.get("msg_type") == "stream":
                room = self.max_output_bytes - used
                super().output(outs, {**msg, "content": {**msg["content"], "text": msg["content"]["text"][:room]}},
                               display_id, cell_index)
            notice = nbformat.v4.new_output("stream", name="stdout", text=(
                f"\n... output truncated by the grader: more than {self.max_output_bytes:,} bytes ...\n"))
            outs.append(notice)
        return None


class AsyncSandboxKernelManager(AsyncKernelManager):
    """autograder.sandbox's SandboxKernelManager, asynchronous: nbclient needs an async kernel client.

    With a blocking client, nbclient's wait for a cell's output blocks its event loop, so a cell that never
    finishes is never timed out (seen: an infinite loop held the grader for 15 minutes).
    """

    sandbox_uid = Integer(-1, help="uid of the sandbox's user; -1 leaves the file alone").tag(config=True)

    def write_connection_file(self, **kwargs):
        super().write_connection_file(**kwargs)
        if self.sandbox_uid >= 0:
            os.chown(self.connection_file, self.sandbox_uid, self.sandbox_uid)


def _message_size(msg):
    content = msg.get("content", {})
    size = len(content.get("text", "") or "")
    for value in (content.get("data") or {}).values():
        size += len(value) if isinstance(value, str) else len(str(value))
    size += sum(len(line) for line in content.get("traceback", []) or [])
    return size


class HideTestCode(NbGraderPreprocessor):
    """Keep hidden test code out of the feedback's tracebacks.

    A frame of a test cell keeps its header ("Cell In[12], line 9") and, if the failing line is in the
    visible part of the test, that line; the lines around it, which IPython prints as context, go. Frames of
    the student's own cells and of libraries are left as they are. The error's message stays: the tests'
    assert messages are written for students.
    """

    def preprocess(self, nb, resources):
        tests = {cell.get("execution_count"): cell for cell in nb.cells if _is_test(cell) and cell.get("execution_count")}
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output.traceback = [_scrub(entry, tests) for entry in output.get("traceback", [])]
        return nb, resources


def _scrub(entry, tests):
    plain = _ANSI.sub("", entry)
    found = _FRAME.match(plain)
    if not found:
        return entry
    count = int(found.group(1) or found.group(2))
    if count not in tests:
        return entry
    header = plain.splitlines()[0]
    line_number = int(found.group(3))
    visible = _visible_lines(tests[count].source)
    if line_number in visible:
        return f"{header}\n----> {line_number} {visible[line_number]}"
    return f"{header}\n      (in the hidden tests)"


def _visible_lines(source):
    """{line number: text} of the lines outside the hidden-test regions."""
    visible, hidden = {}, False
    for number, line in enumerate(source.splitlines(), start=1):
        if HIDDEN_BEGIN in line:
            hidden = True
        elif HIDDEN_END in line:
            hidden = False
        elif not hidden:
            visible[number] = line
    return visible


class FeedbackBanner(NbGraderPreprocessor):
    """Put a first markdown cell in the feedback: how this notebook was graded."""

    lines = List(Unicode(), default_value=[], help="Markdown lines of the banner.").tag(config=True)

    def preprocess(self, nb, resources):
        if self.lines:
            nb.cells.insert(0, nbformat.v4.new_markdown_cell("\n".join(self.lines)))
        return nb, resources
