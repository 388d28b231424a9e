"""Grade one submission inside its own nbgrader course folder: ``python -m autograder.worker JOB.json``.

Run by ``grade.py`` in a subprocess per submission (so that a hung or crashing grading can be stopped
without taking the batch down). It runs nbgrader's own ``autograde`` and ``generate_feedback`` through
``NbGraderAPI`` with the configuration below, and writes ``outcome.json`` beside the job: what nbgrader
reported and which cells hit the grader's limits. The scores themselves stay in the course's gradebook.
"""
import importlib
import json
import pathlib
import sys
import threading
import time

import nbformat
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearHiddenTests, GetGrades,
                                    IgnorePattern, LimitOutput, SaveAutoGrades)
from traitlets.config import Config

from autograder import sandbox
from autograder.course import ASSIGNMENT
from autograder.plugins import KERNEL_DIED, NOT_RUN, TIMEOUT, FeedbackBanner, GradingExecute, HideTestCode

# Anything a test cell prints on stderr (PyTorch's warnings, logging, tqdm) is dropped before scoring: a
# test's verdict is its asserts. nbgrader's default scores any stderr output as a failure.
STDERR_PATTERN = r"[\s\S]*"


def nbgrader_config(job):
    """The nbgrader configuration for one grading job (a dict written by grade.py)."""
    c = Config()
    c.CourseDirectory.root = job["course"]
    c.CourseDirectory.db_url = f"sqlite:///{pathlib.Path(job['course']) / 'gradebook.db'}"
    c.Autograde.autograde_preprocessors = [GradingExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                           SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
    c.GradingExecute.timeout = job["cell_timeout"]
    c.GradingExecute.cell_timeouts = job["cell_timeouts"]
    c.GradingExecute.max_output_bytes = job["max_output_bytes"]
    c.GradingExecute.skip_cells_with_tag = job["skip_tag"]          # unguessable: no tag skips a cell
    c.GradingExecute.force_raise_errors = False
    c.GradingExecute.grading_mode = job["mode"]                       # the training check's bar
    c.GradingExecute.extra_arguments = ["--HistoryManager.hist_file=:memory:",
                                        f"--InteractiveShellApp.exec_lines={job['preamble']}"]
    c.IgnorePattern.enabled = True
    c.IgnorePattern.pattern = STDERR_PATTERN
    c.LimitOutput.max_lines = 1000
    c.LimitOutput.max_traceback = 100
    c.OverwriteCells.add_missing_cells = True
    c.ClearHiddenTests.enforce_metadata = False          # a student's own "BEGIN HIDDEN TESTS" must not crash it
    c.GenerateFeedback.preprocessors = [GetGrades, HideTestCode, ClearHiddenTests, FeedbackBanner,
                                        CSSHTMLHeaderPreprocessor]
    if job.get("sandbox"):                               # the kernel of autograder.sandbox, over Unix sockets
        runtime = pathlib.Path(job["sandbox"]["runtime"])
        c.GradingExecute.kernel_name = job["sandbox"]["kernel_name"]
        c.GradingExecute.sandbox_uid = job["sandbox"]["uid"]
        c.AsyncSandboxKernelManager.sandbox_uid = job["sandbox"]["uid"]
        c.AsyncSandboxKernelManager.transport = "ipc"
        c.AsyncSandboxKernelManager.ip = str(runtime / "kernel")
        c.AsyncSandboxKernelManager.connection_file = str(runtime / "kernel.json")
    return c


def limits_hit(notebook):
    """{"kernel_died": [...], "timed_out": [...], "not_run": n, "disk_full": [...]}: the cells where the
    grader's limits acted (disk_full: a write failed for want of space, ENOSPC)."""
    hits = {"kernel_died": [], "timed_out": [], "not_run": 0, "disk_full": []}
    for cell in notebook.cells:
        name = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or cell.get("id")
        for output in cell.get("outputs", []):
            if sandbox.is_out_of_space(output) and name not in hits["disk_full"]:
                hits["disk_full"].append(name)
            if output.get("output_type") != "error":
                continue
            if output.get("ename") == KERNEL_DIED:
                hits["kernel_died"].append(name)
            elif output.get("ename") == TIMEOUT:
                hits["timed_out"].append(name)
            elif output.get("ename") == NOT_RUN:
                hits["not_run"] += 1
    return hits


def status_of(hits):
    if hits["kernel_died"]:
        return f"kernel died in {hits['kernel_died'][0]}"
    if hits["timed_out"]:
        return f"time limit in {', '.join(hits['timed_out'])}"
    return "ok"


def banner(job, status):
    kernel = ("Your code ran in a sandbox (no network, no view of the course's files, bounded memory)."
              if job.get("sandbox") else "Your code ran without a sandbox.")
    lines = [f"## Grading report: {job['mode']} mode", "", job["mode_description"], "", kernel, "",
             f"**Status:** {status}."]
    if job["notes"]:
        lines += ["", "What the grader repaired before grading (the tests ran as released):", ""]
        lines += [f"* {note}" for note in job["notes"]]
    return lines


def main(job_path):
    # The grader's checks need PyTorch (autograder/verdicts.py): import it while the kernel starts and runs.
    threading.Thread(target=importlib.import_module, args=("torch",), daemon=True).start()
    job_path = pathlib.Path(job_path)
    job = json.loads(job_path.read_text())
    config = nbgrader_config(job)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    started = time.monotonic()
    outcome = {"autograde": api.autograde(ASSIGNMENT, job["student"], force=True, create=True)}
    outcome["autograde_seconds"] = time.monotonic() - started
    autograded = (pathlib.Path(job["course"]) / "autograded" / job["student"] / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    hits = limits_hit(nbformat.read(autograded, as_version=4)) if autograded.exists() else None
    outcome["hits"] = hits
    outcome["status"] = status_of(hits) if hits else "grading error: nbgrader autograde failed"
    if job.get("sandbox"):                               # the disk quota, if reached; which limits held
        outcome["sandbox"] = (sandbox.disk_note(job["sandbox"], hits["disk_full"] if hits else [])
                              + f"; {job['sandbox']['limits']}")
    config.FeedbackBanner.lines = banner(job, outcome["status"] + outcome.get("sandbox", ""))
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    if autograded.exists():
        started = time.monotonic()
        outcome["feedback"] = api.generate_feedback(ASSIGNMENT, job["student"], force=True)
        outcome["feedback_seconds"] = time.monotonic() - started
    (job_path.parent / "outcome.json").write_text(json.dumps(outcome, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
