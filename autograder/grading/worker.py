"""Grade one submission inside its own nbgrader course folder: ``python -m autograder.grading.worker JOB.json``.

Run by ``grade.py`` in a subprocess per submission (so that a hung or crashing grading can be stopped
without taking the batch down). It runs nbgrader's own ``autograde`` and ``generate_feedback`` through
``NbGraderAPI`` with the configuration below, reads the scores from the course's gradebook and writes the
submission's ``Result`` (``reports/result.py``) as ``result.json`` beside the job: scores, status (which cells hit the
grader's limits), sandbox, feedback page and the time each stage took.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
import time

# jsonschema, which nbformat validates notebooks with, builds a grammar of IRIs when it is imported and the
# optional rfc3987-syntax package is installed (0.65 s here, in every grading worker); the notebook's schema
# checks no IRI, so the worker does without it.
sys.modules.setdefault("rfc3987_syntax", None)

import nbformat  # noqa: E402
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps import NbGraderAPI  # noqa: E402
from nbgrader.coursedir import CourseDirectory  # noqa: E402
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    ClearOutput,
    DeduplicateIds,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    OverwriteKernelspec,
    SaveAutoGrades,
)
from traitlets.config import Config

from autograder import assignment
from autograder.grading.options import MODES, GradingOptions
from autograder.grading.plugins import KERNEL_DIED, NOT_RUN, TIMEOUT, GradingExecute, HideTestCode, mistakes_found
from autograder.options import nbgrader_settings
from autograder.release.course import ASSIGNMENT, RELEASE_NOTEBOOK
from autograder.reports.feedback import (
    FeedbackReport,
    LeaveOutCarriedCode,
    ShrinkFigures,
    carried_cells,
    exporter_config,
    report_header,
)
from autograder.reports.result import Result, status
from autograder.sandbox import kernel as sandbox
from autograder.sandbox import processes

# Anything a test cell prints on stderr (PyTorch's warnings, logging, tqdm) is dropped before scoring: a
# test's verdict is its asserts. nbgrader's default scores any stderr output as a failure.
STDERR_PATTERN = r"[\s\S]*"
# The grading stages of the notebook's locked cells, for the timings (test cells are "tests", others "notebook").
STAGES = {"setup": "imports", "train": "training", "evaluate": "evaluation", "predict_test": "evaluation"}


def nbgrader_config(job: dict) -> Config:
    """The nbgrader configuration for one grading job (a dict written by grade.py)."""
    c = Config()
    c.CourseDirectory.root = job["course"]
    c.CourseDirectory.db_url = f"sqlite:///{pathlib.Path(job['course']) / 'gradebook.db'}"
    # nbgrader's sanitizing steps without OverwriteCells: the notebook arrives rebuilt on the release (normalise.py),
    # every locked and test cell as released, once, which OverwriteCells cannot promise for stripped metadata
    c.Autograde.sanitize_preprocessors = [ClearOutput, DeduplicateIds, OverwriteKernelspec, CheckCellMetadata]
    c.Autograde.autograde_preprocessors = [
        GradingExecute,
        IgnorePattern,
        ClearMetadataPreprocessor,
        LimitOutput,
        SaveAutoGrades,
        AssignLatePenalties,
        CheckCellMetadata,
    ]
    for (configurable, trait), value in nbgrader_settings(GradingOptions(**job["options"])).items():
        c[configurable][trait] = value  # the timeout, the mode (the training check's bar), ...
    c.GradingExecute.cell_timeouts = job["cell_timeouts"]
    c.GradingExecute.skip_cells_with_tag = job["skip_tag"]  # unguessable: no tag skips a cell
    c.GradingExecute.force_raise_errors = False
    c.GradingExecute.shutdown_kernel = "immediate"  # killed, not asked to exit: nothing in it is kept (0.9 s saved)
    c.GradingExecute.stages = STAGES
    c.GradingExecute.expected_path = job.get("expected", "")
    c.GradingExecute.timings_path = str(pathlib.Path(job["course"]) / "timings.json")
    c.GradingExecute.extra_arguments = [
        "--HistoryManager.hist_file=:memory:",
        f"--InteractiveShellApp.exec_lines={job['preamble']}",
    ]
    c.IgnorePattern.enabled = True
    c.IgnorePattern.pattern = STDERR_PATTERN
    c.LimitOutput.max_lines = 1000
    c.LimitOutput.max_traceback = 100
    c.ClearHiddenTests.enforce_metadata = False  # a student's own "BEGIN HIDDEN TESTS" must not crash it
    c.GenerateFeedback.preprocessors = [
        GetGrades,
        HideTestCode,
        ClearHiddenTests,
        LeaveOutCarriedCode,
        ShrinkFigures,
        FeedbackReport,
        CSSHTMLHeaderPreprocessor,
    ]
    c.merge(exporter_config())  # the page's template, in reports/templates/feedback/
    c.LeaveOutCarriedCode.carried = carried_cells(nbformat.read(RELEASE_NOTEBOOK, as_version=4))
    if job.get("sandbox"):  # the kernel of autograder.sandbox.kernel, over Unix sockets
        runtime = pathlib.Path(job["sandbox"]["runtime"])
        c.GradingExecute.kernel_name = job["sandbox"]["kernel_name"]
        c.GradingExecute.sandbox_uid = job["sandbox"]["uid"]
        c.AsyncSandboxKernelManager.sandbox_uid = job["sandbox"]["uid"]
        c.AsyncSandboxKernelManager.transport = "ipc"
        c.AsyncSandboxKernelManager.ip = str(runtime / "kernel")
        c.AsyncSandboxKernelManager.connection_file = str(runtime / "kernel.json")
    return c


def limits_hit(notebook: nbformat.NotebookNode) -> dict:
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


def problem_of(hits: dict) -> str | None:
    """What went wrong in the run, for the row's status; None when nothing did."""
    if hits["kernel_died"]:
        return f"kernel died in {hits['kernel_died'][0]}"
    if hits["timed_out"]:
        return f"time limit in {', '.join(hits['timed_out'])}"
    return None


def read_scores(gradebook: pathlib.Path, student: str) -> tuple[dict[str, float], list[str]]:
    """({grade_id: score}, [grade_ids needing manual grading]) from a course's gradebook, via nbgrader's API."""
    try:
        with Gradebook(f"sqlite:///{gradebook}") as gb:
            submission = gb.find_submission(ASSIGNMENT, student)
            grades = [grade for notebook in submission.notebooks for grade in notebook.grades]
            scores = {grade.name: float(grade.score or 0.0) for grade in grades}
            return scores, [grade.name for grade in grades if grade.needs_manual_grade]
    except MissingEntry:
        return {}, []


def give_manual_scores(gradebook: pathlib.Path, student: str, manual: dict[str, float]) -> None:
    """Put the scores a grader gave by hand (formgrader) into the gradebook, as formgrader would: nbgrader's
    score of such a test is then the manual one, in the feedback page and the result alike."""
    if not manual:
        return
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        for notebook in gb.find_submission(ASSIGNMENT, student).notebooks:
            for grade in notebook.grades:
                if grade.name in manual:
                    grade.manual_score = manual[grade.name]
        gb.db.commit()


def _kernel_timings(path: pathlib.Path) -> dict[str, float]:
    """GradingExecute's seconds per stage ("kernel start", "imports", "notebook", "training", ...), if written."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def main(job_path: str, parent: int | None = None) -> int:
    """Grade the job; whatever happens, no process started for it outlives this one (processes.py), nor outlives
    `parent` (default: the grader named in the job; a forked worker's is the fork server, which ends with it)."""
    processes.become_subreaper()
    try:
        job = json.loads(pathlib.Path(job_path).read_text())
        processes.end_with_parent(parent or job.get("grader_pid", os.getppid()))
        return grade_job(job)
    finally:
        processes.stop_descendants()


def grade_job(job: dict) -> int:
    course = pathlib.Path(job["course"])
    config = nbgrader_config(job)
    timings = {"worker start": time.time() - job["launched_at"]} if "launched_at" in job else {}
    started = time.monotonic()
    ran = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config).autograde(
        ASSIGNMENT, job["student"], force=True, create=True
    )
    if not ran.get("success"):  # nbgrader's own log and traceback, for the grader's log (worker.log)
        print(f"nbgrader autograde failed:\n{ran.get('log', '')}\n{ran.get('error', '')}", flush=True)
    autograde = time.monotonic() - started
    timings.update(_kernel_timings(course / "timings.json"))
    timings["nbgrader autograde, other"] = autograde - sum(
        value for name, value in timings.items() if name != "worker start"
    )
    autograded = course / "autograded" / job["student"] / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    started = time.monotonic()
    if autograded.exists():
        give_manual_scores(course / "gradebook.db", job["student"], job.get("manual_scores", {}))
    scores, needs_manual = read_scores(course / "gradebook.db", job["student"])
    timings["gradebook"] = time.monotonic() - started
    points = assignment.points()
    found, notebook = [], None
    hits = None
    if autograded.exists():
        notebook = nbformat.read(autograded, as_version=4)
        hits = limits_hit(notebook)
        problem, found = problem_of(hits), mistakes_found(notebook)
    else:
        problem = "grading error: nbgrader autograde failed"
    held = ""
    if job.get("sandbox"):  # the disk quota, if reached; which limits held
        held = sandbox.disk_note(job["sandbox"], hits["disk_full"] if hits else []) + f"; {job['sandbox']['limits']}"
    row_status = status(problem, needs_manual, job["sandbox_reason"], held)
    feedback = None
    if notebook is not None:
        config.FeedbackReport.header = report_header(
            notebook,
            scores,
            mode=MODES[job["options"]["mode"]].name,
            description=MODES[job["options"]["mode"]].description,
            sandboxed=bool(job.get("sandbox")),
            status=row_status,
            notes=job["notes"],
            manual=job.get("manual_scores", {}),
        )
        started = time.monotonic()
        NbGraderAPI(coursedir=CourseDirectory(config=config), config=config).generate_feedback(
            ASSIGNMENT, job["student"], force=True
        )
        timings["feedback"] = time.monotonic() - started
        feedback = course / "feedback" / job["student"] / ASSIGNMENT / f"{ASSIGNMENT}.html"
    Result(
        job["student_id"],
        {test: scores.get(test, 0.0) for test in points},
        dict(points),
        job["options"]["mode"],
        row_status,
        sandbox=job["sandbox_label"],
        feedback=feedback,
        timings=timings,
        mistakes=found,
    ).write(course / "result.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
