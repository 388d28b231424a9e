"""nbgrader preprocessors the grader configures in place of, or beside, nbgrader's own.

* ``GradingExecute`` (autograde): nbgrader's ``Execute`` with a time limit per cell (the training cell has
  its own), a cap on each cell's output applied while the output arrives (so hundreds of MB never pile up
  in memory), survival of kernel death (the cell that killed the kernel and every later cell get an error
  output, so their tests score zero and the earlier ones keep their scores), and the grader's own check
  after each graded test cell (``autograder/judging/verdicts.py``): a test whose check disagrees gets an error output.
* ``HideTestCode`` (feedback): tracebacks of test cells keep the assert message and the failing line of the
  visible test, never the hidden test's code (``ClearHiddenTests`` clears the cells' source only).

All outputs the grader adds are error outputs with these names, which ``grade.py`` reads back as the status.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import pathlib
import re
import time

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Dict, Integer, Unicode

from autograder import assignment
from autograder.judging import fingerprints, located, verdicts
from lesson import selfcheck

KERNEL_DIED = "KernelDied"
NOT_RUN = "NotRun"
CHECK_FAILED = verdicts.CHECK_FAILED
PROBE_OUTPUT_BYTES = 512 * 2**20  # room for a check's answer: the full-width U-Net's weights, as text
TIMEOUT = "CellTimeoutError"
CHECK_PREAMBLE = verdicts.CHECK_PREAMBLE
DIAGNOSIS_MIME = "application/x-unet-grader-diagnosis+json"  # the known mistakes a failed check matched
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_FRAME = re.compile(r"^(?:Cell In\s*\[(\d+)\]|Input In \[(\d+)\]), line (\d+)")


def diagnosis(grade_id: str, found: list, where: tuple[str, str] | None = None) -> str:
    """The sentence naming the known mistakes a failed check's answer matches, or else saying where the part goes
    wrong (`where`: ``located.describe``'s (category, sentence)); "" for the training test."""
    if found:
        return selfcheck.naming([(mistake.name, mistake.instead) for mistake in found])
    if assignment.part_of(grade_id) is None:
        return ""
    return selfcheck.locating(where) or (
        "They match none of the known mistakes of this part: look at the first result named above. "
    )


def mistakes_found(notebook: nbformat.NotebookNode) -> list[tuple[str, str, str]]:
    """[(test, mistake, kind)] the grader's checks found in an autograded notebook, in notebook order: each known
    mistake named ("named"), and the category of each wrong part located without one ("located")."""
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            text = output.get("data", {}).get(DIAGNOSIS_MIME) if output.get("output_type") == "display_data" else None
            if text:
                message = json.loads(text)
                found += [(message["test"], mistake, "named") for mistake in message["mistakes"]]
                found += [(message["test"], category, "located") for category in message.get("located", [])]
    return found


def _not_run(grade_id: str, error: verdicts.KernelRaised) -> str:
    """Why the check could not run the student's code, in the student's terms: a part the notebook does not define
    (its cell stopped or did not run), or the error the code raised."""
    part = assignment.part_of(grade_id)
    if part is not None and error.error == f"KeyError: '{part.name}'":
        return (
            f"it could not run your code: your notebook defines no {part.name} (the cell that defines it stopped "
            f"or did not run: the test's own message says why)"
        )
    return f"it could not run your code: {error}"


def error_output(name: str, message: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"])


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _is_test(cell):
    nbgrader = cell.get("metadata", {}).get("nbgrader", {})
    return bool(nbgrader.get("grade")) and not nbgrader.get("solution") and cell.cell_type == "code"


class GradingExecute(Execute):
    """nbgrader's Execute, with per-cell time limits, live output caps and kernel-death handling."""

    cell_timeouts = Dict(
        Integer(),
        default_value={},
        help="Time limit in seconds for the cells with these grade_ids (others: `timeout`).",
    ).tag(config=True)
    max_output_bytes = Integer(2_000_000, help="Output kept per cell; the rest is dropped as it arrives.").tag(
        config=True
    )
    sandbox_uid = Integer(
        -1, help="Run the kernel with autograder.sandbox.kernel's kernel manager for this uid (-1: an ordinary kernel)."
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timeout_func = self._cell_timeout

    def create_kernel_manager(self):
        if self.sandbox_uid >= 0:
            self.kernel_manager_class = AsyncSandboxKernelManager
        return super().create_kernel_manager()

    def _cell_timeout(self, cell):
        return self.cell_timeouts.get(_grade_id(cell), self.timeout)

    grading_mode = Unicode("quick", help="The grading mode (the training check's bar)").tag(config=True)
    stages = Dict(
        Unicode(),
        default_value={},
        help="The grading stage ('training', 'evaluation', ...) of the "
        "cells with these grade_ids, for the timings; test cells are 'tests', others 'notebook'",
    ).tag(config=True)
    timings_path = Unicode("", help="Where to write the seconds spent in each stage (JSON); '' for nowhere").tag(
        config=True
    )
    expected_path = Unicode(
        "",
        help="The reference's answers to every check, computed once per batch "
        "(verdicts.save_expected); '' to compute them here",
    ).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._stopped = None  # why later cells are not run, once the kernel is gone
        self._output_bytes = {}
        self._checks_passed = set()  # grade_ids whose grader's check agreed
        self._probing = False
        self._timings = collections.Counter()
        self._clock = time.monotonic()  # the kernel's start counts until the first cell
        if self.expected_path and pathlib.Path(self.expected_path).exists():
            verdicts.load_expected(self.expected_path)
        try:
            return super().preprocess(nb, resources, km)
        finally:
            if self.timings_path:
                pathlib.Path(self.timings_path).write_text(json.dumps(dict(self._timings)))

    def _lap(self, stage):
        """Add the time since the last lap to `stage`."""
        now = time.monotonic()
        self._timings[stage] += now - self._clock
        self._clock = now

    def _stage(self, cell):
        if _is_test(cell):
            return "tests"
        return self.stages.get(_grade_id(cell) or "", "notebook")

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return cell, resources
        if self._stopped:
            cell.outputs = [error_output(NOT_RUN, self._stopped)]
            return cell, resources
        checked = verdicts.has_check(_grade_id(cell)) and _is_test(cell)
        self._lap("kernel start" if not self._timings else "grader")
        try:
            if checked:
                self._run_hidden(verdicts.swap_code(_grade_id(cell)), cell, index)
            cell, resources = super().preprocess_cell(cell, resources, index)
            self._lap(self._stage(cell))
            if checked:
                self._check(cell, index)
                self._run_hidden(verdicts.restore_code(_grade_id(cell)), cell, index)
                self._lap("training check" if _grade_id(cell) == assignment.TRAINING.grade_id else "checks")
            return cell, resources
        except DeadKernelError:
            cell.outputs.append(
                error_output(
                    KERNEL_DIED, "the Python kernel died while this cell ran (os._exit, a crash, or out of memory)"
                )
            )
            self._stopped = f"not run: the kernel died in an earlier cell ({_grade_id(cell) or cell.get('id')})"
        except CellTimeoutError:  # the interrupt did not stop the cell: end the kernel
            cell.outputs.append(
                error_output(
                    TIMEOUT,
                    (
                        f"this cell ran past its {self._cell_timeout(cell)} s limit and ignored the interrupt; "
                        "the kernel was stopped"
                    ),
                )
            )
            self._stopped = f"not run: the kernel was stopped after {_grade_id(cell) or cell.get('id')} hung"
            self._shut_down_kernel()
        self.nb.cells[index] = cell
        return cell, resources

    def _run_hidden(self, code, cell, index):
        """Run the grader's own `code` in the kernel, out of the notebook and its history; returns its cell."""
        hidden = nbformat.v4.new_code_cell(code)
        if not code:
            return hidden
        self._probing, self._probe_bytes = True, 0
        try:  # a dead or hung kernel: handled as for any cell
            self.execute_cell(hidden, index, store_history=False)
        finally:
            self._probing = False
            self.nb.cells[index] = cell  # execute_cell put the hidden cell in the test cell's place
        return hidden

    def _check(self, cell, index):
        """Run the grader's own check of a test cell's part; an error output on the test cell if it disagrees."""
        grade_id = _grade_id(cell)
        probe = self._run_hidden(verdicts.kernel_code(grade_id), cell, index)
        answer = None
        try:
            answer = verdicts.read_message(probe.outputs)
            problem = self._judge(grade_id, answer)
        except verdicts.KernelRaised as error:
            answer, problem = error.error, self._unconfirmed(grade_id) or _not_run(grade_id, error)
        except ValueError as error:
            problem = f"it could not run your code: {error}"
        if not problem:
            self._checks_passed.add(grade_id)
            return
        found = fingerprints.diagnose(grade_id, answer) if answer is not None else []
        where = None if found else located.describe(grade_id, answer, verdicts.read_trace(probe.outputs))
        cell.outputs.append(
            error_output(
                CHECK_FAILED,
                (
                    f"{CHECK_PREAMBLE}{problem}. {diagnosis(grade_id, found, where)}What the specification asks: "
                    f"{verdicts.asks(grade_id)}."
                ),
            )
        )
        if found or where:
            cell.outputs.append(
                nbformat.v4.new_output(
                    "display_data",
                    data={
                        DIAGNOSIS_MIME: json.dumps(
                            {
                                "test": grade_id,
                                "mistakes": [mistake.name for mistake in found],
                                "located": [where[0]] if where else [],
                            }
                        )
                    },
                )
            )

    def _judge(self, grade_id, answer):
        if grade_id != assignment.TRAINING.grade_id:
            return verdicts.compare(grade_id, answer, verdicts.expected(grade_id))
        unconfirmed = self._unconfirmed(grade_id)
        if unconfirmed:
            return unconfirmed
        from lesson.config import read_config

        return verdicts.training_shortfall(answer, read_config(), self.grading_mode)

    def _unconfirmed(self, grade_id):
        """For the training test, when a part failed its tests: why its run cannot be confirmed, naming the parts
        (the reference U-Net would not compute what the student's does); "" otherwise."""
        failed = [test for test in assignment.PART_TESTS if test not in self._checks_passed]
        if grade_id != assignment.TRAINING.grade_id or not failed:
            return ""
        parts = {}
        for test in failed:
            parts.setdefault(assignment.part_of(test).name, []).append(test)
        named = "; ".join(f"your {part} ({', '.join(tests)})" for part, tests in parts.items())
        return (
            f"it confirms a training run by putting the trained weights into the specification's U-Net, which "
            f"computes what yours does only when every part passes its tests; these did not: {named}"
        )

    def _shut_down_kernel(self):
        try:
            asyncio.get_event_loop().run_until_complete(self.km.shutdown_kernel(now=True))
        except Exception:  # noqa: BLE001 (already gone: nothing to do)
            pass

    async def _async_handle_timeout(self, timeout, cell=None):
        self.error_on_timeout = {
            "ename": TIMEOUT,
            "evalue": f"this cell ran past its {timeout} s limit and was interrupted",
            "traceback": [f"{TIMEOUT}: this cell ran past its {timeout} s limit"],
        }
        return await super()._async_handle_timeout(timeout, cell)

    def output(self, outs, msg, display_id, cell_index):
        size = _message_size(msg)
        used = self._output_bytes.get(cell_index, 0)
        self._output_bytes[cell_index] = used + size
        if self._probing:  # the grader's check: its own, larger allowance
            self._probe_bytes += size
            return (
                super().output(outs, msg, display_id, cell_index) if self._probe_bytes <= PROBE_OUTPUT_BYTES else None
            )
        if used + size <= self.max_output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        if used <= self.max_output_bytes:  # the first message over the cap: keep what fits, say so
            if msg.get("msg_type") == "stream":
                room = self.max_output_bytes - used
                super().output(
                    outs,
                    {**msg, "content": {**msg["content"], "text": msg["content"]["text"][:room]}},
                    display_id,
                    cell_index,
                )
            notice = nbformat.v4.new_output(
                "stream",
                name="stdout",
                text=(f"\n... output truncated by the grader: more than {self.max_output_bytes:,} bytes ...\n"),
            )
            outs.append(notice)
        return None


class AsyncSandboxKernelManager(AsyncKernelManager):
    """autograder.sandbox.kernel's SandboxKernelManager, asynchronous: nbclient needs an async kernel client.

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
    """Keep hidden test code out of the feedback's tracebacks and outputs.

    A frame of a test cell keeps its header ("Cell In[12], line 9") and, if the failing line is in the
    visible part of the test, that line; the lines around it, which IPython prints as context, go. Frames of
    the student's own cells and of libraries are left as they are. The error's message stays: the tests'
    assert messages are written for students. Any output line that repeats a line of a hidden test (say a
    student's ``print(In)``, which lists every cell the kernel ran) is replaced by a notice.
    """

    def preprocess(self, nb, resources):
        tests = {
            cell.get("execution_count"): cell for cell in nb.cells if _is_test(cell) and cell.get("execution_count")
        }
        hidden = {
            line.strip()
            for cell in nb.cells
            if _is_test(cell)
            for line in _hidden_lines(cell.source)
            if len(line.strip()) >= 12
        } | {HIDDEN_BEGIN, HIDDEN_END}
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output.traceback = [_scrub(entry, tests) for entry in output.get("traceback", [])]
                _drop_hidden_lines(output, hidden)
        return nb, resources


def _drop_hidden_lines(output, hidden):
    """Replace every line of an output's text that holds a hidden test line."""

    def clean(text):
        text = "".join(text) if isinstance(text, list) else text
        if not isinstance(text, str) or not any(line in text for line in hidden):
            return text
        return "".join(
            "(a line of the hidden tests, removed by the grader)\n" if any(line in row for line in hidden) else row
            for row in text.splitlines(keepends=True)
        )

    if "text" in output:
        output["text"] = clean(output["text"])
    for mime, value in list(output.get("data", {}).items()):
        if mime.startswith("text/"):
            output["data"][mime] = clean(value)
    if "traceback" in output:
        output["traceback"] = [clean(entry) for entry in output["traceback"]]


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


def _regions(source):
    """(line number, text, inside a hidden-test region) for each line of a test cell's source but the markers."""
    hidden = False
    for number, line in enumerate(source.splitlines(), start=1):
        if HIDDEN_BEGIN in line:
            hidden = True
        elif HIDDEN_END in line:
            hidden = False
        else:
            yield number, line, hidden


def _hidden_lines(source):
    """The lines inside the hidden-test regions of a test cell's source."""
    return [line for _, line, hidden in _regions(source) if hidden]


def _visible_lines(source):
    """{line number: text} of the lines outside the hidden-test regions."""
    return {number: line for number, line, hidden in _regions(source) if not hidden}
