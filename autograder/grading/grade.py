"""Grade a batch of submissions with nbgrader's own machinery, one throwaway course folder per submission.

    unet-course grade PATH... --out DIR [--workers N] [--mode auto|quick|full] [--timeout SECONDS]

How one submission is graded (``Session.grade_one``):
1. It is read, bounded, and checked (a file refused as it came in, ``limits.py``, an empty file, invalid JSON
   or a non-notebook gets that status and zero) and rebuilt on the release (``normalise.py``): every test cell
   present once, untagged, as released.
2. A copy of a template course (made once per batch by ``nbgrader generate_assignment``, so its gradebook
   holds the source's cells, checksums and hidden tests) receives it as nbgrader's
   ``submitted/<student>/UNet_Assignment/UNet_Assignment.ipynb``.
3. ``python -m autograder.grading.worker`` runs nbgrader's ``autograde`` and ``generate_feedback`` there, in a
   process of its own with a hard time limit, and the kernel gets a fresh checkpoint folder, seeded
   random generators and an output cap (``preamble.py``) and the mode's UNET_* settings.
4. The worker reads the scores back from that course's gradebook with nbgrader's ``Gradebook`` API and
   writes the submission's one ``Result`` (``reports/result.py``) beside the job.

Courses are independent (nbgrader's sqlite gradebook is one per course and it has no parallel autograde),
so ``--workers N`` simply grades N submissions at a time; each kernel gets cores / N threads. The batch around
them (what to grade, the results kept, a clean stop) is ``batch.py``'s ``Grader``.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import nbformat

from autograder import assignment
from autograder.grading import calibration, forked, normalise, preparation
from autograder.grading.options import MODES, GradingOptions, Mode, describe, resolve_mode  # noqa: F401 (grade.MODES...)
from autograder.grading.preamble import PREAMBLE, preamble  # noqa: F401 (grade.PREAMBLE)
from autograder.grading.submissions import Submission
from autograder.grading.template import EXPECTED, build_template, prepared_template
from autograder.release.course import (
    ASSIGNMENT,
    RELEASE_NOTEBOOK,
    REPO_ROOT,
    put_tools_on_path,
)
from autograder.reports import report
from autograder.reports.result import Result, status
from autograder.sandbox import processes
from data.source import LOADER_ENV
from lesson.config import TrainingConfig, environment_for

if TYPE_CHECKING:  # annotations only: the sandbox is imported when used
    from autograder.sandbox import kernel as sandbox

# The locked cells that train and evaluate get the mode's long time limit; every other cell gets --timeout.
LONG_CELLS = ("train", "evaluate", "predict_test")


class GradingStopped(Exception):
    """The batch was stopped (``Session.stop``) while this submission was being graded: it has no result."""


class Session:
    """What the submissions of a batch share, and how one is graded: the mode, the limits, the template course,
    the data folder, the sandbox decision and the grading processes running now.

    The local ``Grader`` grades through one session; so does each Dask worker process (``cluster.py``).
    """

    def __init__(
        self,
        options: GradingOptions | str = "quick",
        threads: int = 1,
        sandbox: bool = False,
        sandbox_reason: str = "",
        log=print,
        keep_work=None,
        limits=None,
    ):
        self.options = (GradingOptions(mode=options) if isinstance(options, str) else options).resolved()
        self.mode = MODES[self.options.mode]
        self.threads = max(1, threads)  # each kernel's threads
        self.sandbox = sandbox  # run each kernel in autograder.sandbox.kernel (bubblewrap)
        self.sandbox_reason = "" if sandbox else (sandbox_reason or "not requested")  # why not, in every row
        self.log = log
        self.keep_work = keep_work  # a folder to keep each course in (for debugging the grader)
        self.harvest = None  # called (submission, result, course) before a course goes
        self.manual_scores = {}  # {student: {test: points}} a grader gave (an nbgrader course)
        self.limits = limits  # the sandbox's sandbox.Limits (None: its defaults)
        self.template = None  # the template course (set by prepare())
        self.data = None  # the data folder the kernels read (set by prepare())
        self.tests = assignment.points()
        self.release = nbformat.read(RELEASE_NOTEBOOK, as_version=4)
        self._running = {}  # tag -> the grading processes running for it
        self._stopped = set()  # tags stopped (stop()); True in it: every one
        self._precision = None  # the kernels' precision and layout, measured once (precision())
        self._lock = threading.Lock()
        put_tools_on_path()  # the gradebook (here and in the workers) runs `alembic`

    @property
    def sandbox_label(self) -> str:
        return "in a sandbox" if self.sandbox else f"WITHOUT a sandbox ({self.sandbox_reason})"

    def prepare(
        self, work: pathlib.Path, data: pathlib.Path | None = None, template: pathlib.Path | None = None
    ) -> None:
        """Make the template course in `work` (its gradebook knows the assignment; copied for each submission)
        and choose the data folder the kernels read (`data`, else ``data_folder(work)``). With `template`, the
        course prepared there before is used (``prepared_template``): the Gradescope image makes it once."""
        forked.prepare()  # the workers' fork server imports what they use meanwhile
        self.template = prepared_template(template) if template else build_template(pathlib.Path(work) / "template")
        self.data = data or data_folder(work)
        self.precision()  # and the kernels' precision and layout, measured once, the reference's run checked in it

    def grade_one(
        self,
        submission: Submission,
        course: pathlib.Path,
        feedback_folder: pathlib.Path,
        slot: int = 1,
        tag: object = None,
    ) -> Result:
        """Grade one submission in the (new) course folder `course`; its feedback page goes to `feedback_folder`.
        `slot` numbers it among the submissions graded at once (its sandbox uid); `tag` names it for ``stop``."""
        started = time.monotonic()
        try:
            if submission.refused:  # refused as it came in (limits.py): never opened
                raise normalise.InvalidSubmission(submission.refused)
            notebook = normalise.read_submission(submission.path, submission.max_bytes)
            rebuilt, notes = normalise.rebuild(notebook, self.release)
        except normalise.InvalidSubmission as reason:
            result = Result(submission.student, {}, dict(self.tests), self.mode.name, status(str(reason)))
        else:
            read = time.monotonic() - started
            result = self.autograde(submission.student, rebuilt, notes, pathlib.Path(course), slot, tag)
            result.timings["reading the submission"] = read
        if self.stopped(tag):  # a stopped run writes nothing more: its kernel was killed
            shutil.rmtree(course, ignore_errors=True)
            raise GradingStopped(submission.student)
        result.seconds = time.monotonic() - started
        result.feedback = report.write_feedback(feedback_folder, result, result.feedback)
        if self.harvest is not None:  # e.g. an nbgrader course keeping the autograded notebook
            self.harvest(submission, result, pathlib.Path(course))
        if self.keep_work and pathlib.Path(course).exists():
            shutil.copytree(course, pathlib.Path(self.keep_work) / pathlib.Path(course).name, dirs_exist_ok=True)
        shutil.rmtree(course, ignore_errors=True)
        return result

    def autograde(
        self,
        student: str,
        notebook: nbformat.NotebookNode,
        notes: list[str],
        course: pathlib.Path,
        slot: int = 1,
        tag: object = None,
    ) -> Result:
        """Run the grading worker on a rebuilt notebook; its Result, or one saying why there is none."""
        started = time.monotonic()
        job_path, job, env, box = self.prepare_job(student, notebook, notes, course, slot)
        prepared = time.monotonic() - started
        try:
            problem = self.run_worker(job_path, course, job, env, tag)
        finally:
            if box is not None:  # its processes, scratch and cgroup go, whatever happened
                box.close()
        if problem:
            held = f"; {job['sandbox']['limits']}" if box is not None else ""
            return Result(
                student,
                {},
                dict(self.tests),
                self.mode.name,
                status(problem, (), self.sandbox_reason, held),
                sandbox=self.sandbox_label,
            )
        result = Result.read(course / "result.json")
        result.timings["course and sandbox set-up"] = prepared
        if result.status.startswith("grading error"):  # the grader's own failure: say why, from the worker's log
            self.log(f"{student}: {result.status}:\n{(course / 'worker.log').read_text(errors='replace')[-2000:]}")
        return result

    def prepare_job(
        self, student: str, notebook: nbformat.NotebookNode, notes: list[str], course: pathlib.Path, slot: int = 1
    ) -> tuple[pathlib.Path, dict, dict, object]:
        """Lay out the course folder of one submission; returns (where the job goes, the job, the worker's
        environment, its sandbox.Sandbox or None), the sandbox to be closed when the job is done."""
        folder_name = re.sub(r"[^A-Za-z0-9_-]+", "_", student).strip("_")[:40] or "student"
        course.mkdir(parents=True)
        (course / "tmp").mkdir()  # TMPDIR (kernel_environment)
        shutil.copyfile(self.template / "gradebook.db", course / "gradebook.db")
        (course / "source" / ASSIGNMENT).mkdir(parents=True)  # empty: the gradebook has the tests
        submitted = course / "submitted" / folder_name / ASSIGNMENT
        submitted.mkdir(parents=True)
        nbformat.write(notebook, submitted / f"{ASSIGNMENT}.ipynb")
        job = {
            "course": str(course),
            "student": folder_name,
            "student_id": student,
            "options": self.options.job(),
            "cell_timeouts": {cell: max(self.options.timeout, self.mode.long_cell_timeout) for cell in LONG_CELLS},
            "skip_tag": f"never-skip-{secrets.token_hex(16)}",
            "preamble": preamble(self.options.max_output_bytes),
            "notes": notes,
            "sandbox_reason": self.sandbox_reason,
            "sandbox_label": self.sandbox_label,
            "expected": str(self.template / EXPECTED),
            "manual_scores": self.manual_scores.get(student, {}),
        }
        env = self.kernel_environment(course)
        box = None
        if self.sandbox:
            box = self._sandbox(course, slot)
            job["sandbox"] = box.job_entry()
            env["JUPYTER_PATH"] = os.pathsep.join(
                filter(None, [str(course / "jupyter"), os.environ.get("JUPYTER_PATH")])
            )
        return course / "job.json", job, env, box  # run_worker writes the job, with its start time

    def kernel_settings(self, checkpoints: pathlib.Path) -> dict[str, str]:
        """What the kernel's environment must hold: the mode's run settings, seeds and thread counts."""
        settings = {**self._run_settings(), "UNET_CHECKPOINT_DIR": str(checkpoints)}
        settings["UNET_PRECISION"], settings["UNET_LAYOUT"] = self.precision()[:2]
        return settings

    def _run_settings(self) -> dict[str, str]:
        """The kernel's settings but its checkpoint folder, precision and layout."""
        settings = environment_for(self.mode.settings)
        settings.update(
            {
                "UNET_GRADING_MODE": self.mode.name,
                "PYTHONHASHSEED": "0",
                "OMP_NUM_THREADS": str(self.threads),
                "MKL_NUM_THREADS": str(self.threads),
            }
        )
        if self.data is not None:
            settings["UNET_DATA_DIR"] = str(self.data)
        elif os.environ.get("UNET_DATA_DIR"):
            settings["UNET_DATA_DIR"] = os.environ["UNET_DATA_DIR"]
        return settings

    def precision(self) -> tuple[str, str, str]:
        """(precision, layout, why) every kernel trains in: chosen once, here, so that the same submission gets
        the same run.

        lesson.speed.choose_precision_and_layout for the mode's U-Net at the kernels' thread count, measured in a
        process of its own (``preparation.py``: the grader never imports torch); UNET_PRECISION and UNET_LAYOUT of
        the grader's own environment win. Each kernel measuring for itself could choose differently on a busy
        machine, and the sandbox gives each kernel a fresh home, so no cache. In quick mode, the reference's own run
        must pass the training test's bar in it, else the course's setting is taken (``calibration.py``).
        """
        if self._precision is None:
            width = self.mode.settings.get("hidden_channels", TrainingConfig.hidden_channels)
            device = self.mode.settings.get("device", TrainingConfig.device)
            chosen = preparation.precision_and_layout(width, self.threads, device)
            self._precision = calibration.checked_settings(
                self.mode.name, chosen, self._run_settings(), self.threads, self.log
            )
        return self._precision

    def kernel_environment(self, course: pathlib.Path) -> dict[str, str]:
        """The environment of the worker and its kernel: the mode's settings and nothing of the grader's own."""
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("UNET_") and name not in ("PYTHONPATH", "PYTHONSTARTUP")
        }
        env.update(self.kernel_settings(course / "checkpoints"))
        if os.environ.get(LOADER_ENV):  # the worker judges training on the data as the grader reads it
            env[LOADER_ENV] = os.environ[LOADER_ENV]
        env["TMPDIR"] = str(course / "tmp")  # the worker's and an unsandboxed kernel's temporary files
        return env  # go with the course (prepare_job); a sandbox has its /tmp

    def _sandbox(self, course, slot):
        """Set up the sandboxed kernel of one submission; returns its sandbox.Sandbox (close it when done).

        The kernel runs in autograder.sandbox.kernel as uid SANDBOX_UID_BASE + slot, sees the Python environment and
        the data read-only (and in full mode the GPU) and writes only `course`/kernel (or, under a long TMPDIR, a
        folder in /tmp: ``sandbox.scratch_folder``), a tmpfs of the disk quota; only the settings of
        kernel_settings() reach it.
        """
        from autograder.sandbox import kernel as sandbox

        scratch = sandbox.scratch_folder(course / "kernel")  # course/kernel, unless its socket paths are too long
        settings = self.kernel_settings(scratch / "checkpoints")
        settings["MPLCONFIGDIR"] = str(scratch / ".matplotlib")
        box = sandbox.Sandbox(
            scratch,
            slot,
            self.limits or sandbox.Limits(disk_bytes=self.options.disk_bytes),
            readonly=[self.data],
            env=settings,
            gpu=self.mode.name == "full",
            name=f"{course.parent.name}-{slot}",
        )
        try:
            runtime = scratch / sandbox.RUNTIME
            runtime.mkdir()
            _matplotlib_cache(scratch / ".matplotlib")
            box.write_kernelspec(course / "jupyter")
            for path in (runtime, scratch / ".matplotlib", *(scratch / ".matplotlib").iterdir()):
                os.chown(path, box.uid, box.uid)
        except BaseException:
            box.close()
            raise
        return box

    def hard_limit(self) -> int:
        """Seconds after which a whole submission is stopped: far beyond the sum of its cells' limits."""
        other_cells = sum(1 for cell in self.release.cells if cell.cell_type == "code") - len(LONG_CELLS)
        timeout = self.options.timeout
        return len(LONG_CELLS) * max(timeout, self.mode.long_cell_timeout) + other_cells * timeout + 300

    def run_worker(self, job_path: pathlib.Path, course: pathlib.Path, job: dict, env: dict, tag: object = None) -> str:
        """Run the grading worker on the job (``_start_worker``); "" when it wrote its result, else what went wrong."""
        log_path = course / "worker.log"
        job["launched_at"], job["grader_pid"] = time.time(), os.getpid()  # the worker ends with this process
        pathlib.Path(job_path).write_text(json.dumps(job, indent=1))
        process = _start_worker(job_path, env, log_path)
        with self._lock:
            self._running.setdefault(tag, set()).add(process)
        try:
            if self.stopped(tag):  # stopped while it started
                _kill(process)
            process.wait(timeout=self.hard_limit())
        except subprocess.TimeoutExpired:
            _kill(process)
            return f"grading stopped after {self.hard_limit()} s"
        finally:
            with self._lock:
                self._running[tag].discard(process)
        if self.stopped(tag):
            return "stopped"
        if process.returncode != 0 or not (course / "result.json").exists():
            tail = log_path.read_text(errors="replace")[-2000:]
            self.log(f"{job['student_id']}: the grading worker failed (exit {process.returncode}):\n{tail}")
            return f"grading error (worker exit {process.returncode})"
        return ""

    def stopped(self, tag: object = None) -> bool:
        with self._lock:
            return True in self._stopped or tag in self._stopped

    def stop(self, tag: object = None, everything: bool = False) -> None:
        """Kill the grading processes of `tag` (or all of them) and any started later for it: a grader's Ctrl-C."""
        with self._lock:
            self._stopped.add(True if everything else tag)
            processes = [
                process for key, running in self._running.items() if everything or key == tag for process in running
            ]
        for process in processes:
            _kill(process)


def _matplotlib_cache(folder):
    """`folder` with a copy of this machine's matplotlib font list, if it has one: a fresh sandbox would
    otherwise spend a second or two rebuilding it for every submission."""
    folder.mkdir(parents=True, exist_ok=True)
    home_cache = pathlib.Path(os.environ.get("MPLCONFIGDIR") or pathlib.Path.home() / ".cache" / "matplotlib")
    for font_list in home_cache.glob("fontlist-*.json"):
        shutil.copyfile(font_list, folder / font_list.name)
    return folder


def _start_worker(job_path: pathlib.Path, env: dict, log_path: pathlib.Path):
    """The grading worker on the job, started: forked from the fork server where there is one (``forked.py``), else
    ``python -m autograder.grading.worker`` in a session of its own; its output goes to `log_path`."""
    with open(log_path, "w") as log:  # made here, so that a worker that dies at once leaves it, empty
        if forked.available():
            return forked.start(job_path, env, log_path, REPO_ROOT)
        return subprocess.Popen(
            [sys.executable, "-m", "autograder.grading.worker", str(job_path)],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _kill(process):
    """Kill a worker and every process below it (its kernel, in a session of its own, and what that started:
    sandbox/processes.py), and its process group."""
    processes.kill_tree(process.pid)
    process.wait()


def use_sandbox(requested: str, mode: str, limits: sandbox.Limits | None = None) -> tuple[bool, str]:
    """(whether to sandbox the kernels, why not, or which limits hold): `requested` is the --sandbox choice,
    auto, on or off. In full mode the sandbox shows the kernel the GPU (sandbox.gpu_mounts)."""
    if requested == "off":
        return False, "--sandbox off"
    from autograder.sandbox import kernel as sandbox

    status = sandbox.probe(limits, gpu=mode == "full")
    return status.available, status.reason


def prepare_data() -> str | None:
    """Make sure the kernels will find the ISBI 2012 data; returns an error message, or None when they will.

    With UNET_DATA_DIR set, its files are checked once here. Without it, the volumes are downloaded once
    (into pooch's cache) here, and each batch gives its kernels a folder with the three files
    (``Grader.data_folder``), rather than each kernel downloading its own copy.
    """
    from data.isbi2012 import DataUnavailableError
    from data.source import load_dataset  # the real data (data/source.py: which loader)

    try:
        load_dataset()
    except (DataUnavailableError, ValueError) as error:
        return f"cannot get the ISBI 2012 data: {error}"
    return None


def data_folder(work: pathlib.Path) -> pathlib.Path:
    """The folder the kernels read the data from: UNET_DATA_DIR, else the three volumes written into `work`."""
    if os.environ.get("UNET_DATA_DIR"):
        return pathlib.Path(os.environ["UNET_DATA_DIR"]).resolve()
    import tifffile

    from data.isbi2012 import VOLUMES
    from data.source import load_dataset

    folder = pathlib.Path(work) / "data"
    folder.mkdir(parents=True, exist_ok=True)
    for name, volume in zip(VOLUMES, load_dataset()):
        tifffile.imwrite(folder / f"{name}.tif", volume)
    return folder
