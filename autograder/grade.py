"""Grade a batch of submissions with nbgrader's own machinery, one throwaway course folder per submission.

    python -m autograder grade PATH... --out DIR [--workers N] [--mode auto|quick|full] [--timeout SECONDS]

How one submission is graded (``grade_one``):
1. It is read and checked (an empty file, invalid JSON or a non-notebook gets that status and zero) and
   rebuilt on the release (``normalise.py``): every test cell present once, untagged, as released.
2. A copy of a template course (made once per batch by ``nbgrader generate_assignment``, so its gradebook
   holds the source's cells, checksums and hidden tests) receives it as nbgrader's
   ``submitted/<student>/UNet_Assignment/UNet_Assignment.ipynb``.
3. ``python -m autograder.worker`` runs nbgrader's ``autograde`` and ``generate_feedback`` there, in a
   process of its own with a hard time limit, and the kernel gets a fresh checkpoint folder, seeded
   random generators and an output cap (``PREAMBLE``) and the mode's UNET_* settings.
4. The scores are read back from that course's gradebook with nbgrader's ``Gradebook`` API.

Courses are independent (nbgrader's sqlite gradebook is one per course and it has no parallel autograde),
so ``--workers N`` simply grades N submissions at a time; each kernel gets cores / N threads.
"""
import base64
import concurrent.futures
import dataclasses
import json
import os
import pathlib
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from autograder import normalise, report
from autograder.course import (ASSIGNMENT, RELEASE_NOTEBOOK, REPO_ROOT, SOURCE_NOTEBOOK, make_course, put_tools_on_path,
                               run_nbgrader)
from lesson.config import QUICK_GRADING, SMOKE_GRADING, environment_for

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


def preamble(max_output_bytes):
    """The preamble as one line for IPython's exec_lines (a kernel command-line argument)."""
    code = PREAMBLE.replace("{limit}", str(max(0, int(max_output_bytes) - 1000)))   # room for the notice
    return f"import base64; exec(base64.b64decode({base64.b64encode(code.encode()).decode()!r}).decode())"
# The locked cells that train and evaluate get the mode's long time limit; every other cell gets --timeout.
LONG_CELLS = ("train", "evaluate", "predict_test")


@dataclasses.dataclass(frozen=True)
class Mode:
    name: str
    settings: dict            # UNET_* run settings (lesson/config.py); {} is the course's real run
    long_cell_timeout: int    # seconds for each of LONG_CELLS
    description: str


def describe(settings):
    """A run's settings in words: {'epochs': 20, 'hidden_channels': 8, ...} -> '20 epochs, width 8, ...'."""
    words = {"epochs": "{} epochs", "hidden_channels": "width {}", "input_size": "{} px crops",
             "learning_rate": "learning rate {:g}", "holdout_slices": "{} held-out slice(s)"}
    return ", ".join(text.format(settings[name]) for name, text in words.items() if name in settings)


MODES = {
    "full": Mode("full", {}, 3600, (
        "Full mode: the notebook's real run (200 epochs, width 64, whole 512 x 512 slices) on a GPU; the training "
        "test checks the held-out quality.")),
    "quick": Mode("quick", QUICK_GRADING, 300, (
        f"Quick mode (no GPU): a short, honest run ({describe(QUICK_GRADING)}; QUICK_GRADING in the settings "
        "cell); the training test checks that the model visibly learns: the loss falls and the held-out slices "
        "are cut into cells far better than by calling every pixel interior.")),
    "smoke": Mode("smoke", SMOKE_GRADING, 120, (
        f"Smoke mode, for testing the grader itself, never for grading students: a tiny run "
        f"({describe(SMOKE_GRADING)}); the training test only checks that training ran.")),
}


@dataclasses.dataclass
class Result:
    student: str
    path: pathlib.Path
    scores: dict              # grade_id -> points
    max_scores: dict
    mode: str
    status: str
    seconds: float = 0.0
    feedback: pathlib.Path = None

    @property
    def total(self):
        return sum(self.scores.values())

    @property
    def max_total(self):
        return sum(self.max_scores.values())

    def row(self, test_ids):
        row = {"student": self.student, "total": report.number(self.total),
               "max_total": report.number(self.max_total), "mode": self.mode, "status": self.status}
        row.update({test_id: report.number(self.scores.get(test_id, 0)) for test_id in test_ids})
        return row


def resolve_mode(requested):
    """'auto' is 'full' when PyTorch sees a GPU, else 'quick'."""
    if requested != "auto":
        return requested
    import torch
    return "full" if torch.cuda.is_available() else "quick"


def graded_tests(source=SOURCE_NOTEBOOK):
    """{grade_id: points} of the graded test cells, in notebook order."""
    notebook = nbformat.read(source, as_version=4)
    return {meta["grade_id"]: float(meta["points"]) for meta in
            (cell.metadata.get("nbgrader", {}) for cell in notebook.cells) if meta.get("grade")}


class Grader:
    """Grades submissions in `mode` into the folder `out`; see the module docstring."""

    def __init__(self, out, mode="quick", workers=1, timeout=120, max_output_bytes=2_000_000, log=print,
                 keep_work=None, sandbox=False, sandbox_reason=""):
        self.out = pathlib.Path(out)
        self.mode = MODES[mode]
        self.workers = max(1, workers)
        self.timeout = timeout
        self.max_output_bytes = max_output_bytes
        self.log = log
        self.keep_work = keep_work                   # a folder to keep each course in (for debugging the grader)
        self.sandbox = sandbox                       # run each kernel in autograder.sandbox (bubblewrap)
        self.sandbox_reason = sandbox_reason         # why not, written into every row graded without it
        self.data = None                             # the data folder the kernels read (set by grade())
        self._running = set()                        # worker processes now running (killed on Ctrl-C)
        self.tests = graded_tests()
        self.release = nbformat.read(RELEASE_NOTEBOOK, as_version=4)
        self.threads = max(1, (os.cpu_count() or 1) // self.workers)
        put_tools_on_path()                          # the gradebook (here and in the workers) runs `alembic`

    def grade(self, submissions):
        """Grade every submission; write grades.csv and feedback/; return the results in submission order."""
        self.out.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="unet-grading-") as work:
            work = pathlib.Path(work)
            template = self._template(work / "template")
            self.data = data_folder(work)
            self.log(f"course template ready in {time.monotonic() - started:.1f} s")
            jobs = list(enumerate(submissions))
            results = [None] * len(jobs)
            pool = concurrent.futures.ThreadPoolExecutor(self.workers)
            try:
                futures = {pool.submit(self.grade_one, submission, template, work / f"course-{index}", index + 1): index
                           for index, submission in jobs}
                for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
                    result = results[futures[future]] = future.result()
                    self.log(f"[{done}/{len(jobs)}] {result.student}: {report.number(result.total)}/"
                             f"{report.number(result.max_total)} ({result.status}) in {result.seconds:.1f} s")
            except BaseException:                        # Ctrl-C: stop every worker now; no CSV is written
                pool.shutdown(wait=False, cancel_futures=True)
                for process in list(self._running):
                    _kill(process)
                raise
            pool.shutdown()
        report.write_grades(self.out / "grades.csv", results, list(self.tests))
        self.log(f"graded {len(results)} submission(s) in {self.mode.name} mode in {time.monotonic() - started:.1f} s: "
                 f"{self.out / 'grades.csv'}, {self.out / 'feedback'}/")
        return results

    def _template(self, root):
        """A course whose gradebook knows the assignment: made once, copied for each submission."""
        make_course(root)
        run_nbgrader(root, "generate_assignment", ASSIGNMENT, "--force")
        return root

    def grade_one(self, submission, template, course, slot=1):
        started = time.monotonic()
        result = Result(submission.student, submission.path, {}, dict(self.tests), self.mode.name, "ok")
        try:
            notebook = normalise.read_submission(submission.path)
            rebuilt, notes = normalise.rebuild(notebook, self.release)
        except normalise.InvalidSubmission as reason:
            result.status = str(reason)
        else:
            result.feedback = self._autograde(result, rebuilt, notes, template, course, slot)
        result.seconds = time.monotonic() - started
        result.feedback = report.write_feedback(self.out / "feedback", result, result.feedback)
        if self.keep_work and course.exists():
            shutil.copytree(course, pathlib.Path(self.keep_work) / course.name, dirs_exist_ok=True)
        shutil.rmtree(course, ignore_errors=True)
        return result

    def _autograde(self, result, notebook, notes, template, course, slot=1):
        student = re.sub(r"[^A-Za-z0-9_-]+", "_", result.student).strip("_")[:40] or "student"
        course.mkdir(parents=True)
        shutil.copyfile(template / "gradebook.db", course / "gradebook.db")
        (course / "source" / ASSIGNMENT).mkdir(parents=True)       # empty: the gradebook has the tests
        submitted = course / "submitted" / student / ASSIGNMENT
        submitted.mkdir(parents=True)
        nbformat.write(notebook, submitted / f"{ASSIGNMENT}.ipynb")
        job = {"course": str(course), "student": student, "cell_timeout": self.timeout,
               "cell_timeouts": {cell: max(self.timeout, self.mode.long_cell_timeout) for cell in LONG_CELLS},
               "max_output_bytes": self.max_output_bytes, "skip_tag": f"never-skip-{secrets.token_hex(16)}",
               "preamble": preamble(self.max_output_bytes), "mode": self.mode.name, "mode_description": self.mode.description,
               "notes": notes}
        worker_env = self.kernel_environment(course)
        if self.sandbox:
            job["sandbox"] = self._sandbox(course, slot, worker_env)
            worker_env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(course / "jupyter"),
                                                                       os.environ.get("JUPYTER_PATH")]))
        job_path = course / "job.json"
        job_path.write_text(json.dumps(job, indent=1))
        outcome = self._run_worker(job_path, course, job, worker_env)
        scores, needs_manual = read_scores(course / "gradebook.db", student)
        result.scores = {test_id: scores.get(test_id, 0.0) for test_id in self.tests}
        result.status = outcome.get("status", "grading error")
        if result.status == "ok" and needs_manual:
            result.status = f"not graded: {', '.join(needs_manual)}"
        if not self.sandbox:                         # never silently open: the row says it
            result.status += f"; no sandbox ({self.sandbox_reason or 'not requested'})"
        return course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"

    def kernel_settings(self, checkpoints):
        """What the kernel's environment must hold: the mode's run settings, seeds and thread counts."""
        settings = environment_for(self.mode.settings)
        settings.update({"UNET_GRADING_MODE": self.mode.name, "UNET_CHECKPOINT_DIR": str(checkpoints),
                         "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": str(self.threads),
                         "MKL_NUM_THREADS": str(self.threads)})
        settings["UNET_PRECISION"] = self.precision()
        if self.data is not None:
            settings["UNET_DATA_DIR"] = str(self.data)
        elif os.environ.get("UNET_DATA_DIR"):
            settings["UNET_DATA_DIR"] = os.environ["UNET_DATA_DIR"]
        return settings

    def precision(self):
        """The precision every kernel trains in: chosen once, here, so that the same submission gets the same run.

        lesson.training.choose_precision for the mode's U-Net at the kernels' thread count (UNET_PRECISION of
        the grader's own environment wins); each kernel measuring for itself could choose differently on a
        busy machine, and the sandbox gives each kernel a fresh home, so no cache.
        """
        if getattr(self, "_precision", None) is None:
            import torch
            from lesson.config import TrainingConfig, read_config
            from lesson.training import choose_precision, pick_device
            from solutions.reference import load_reference
            width = self.mode.settings.get("hidden_channels", TrainingConfig.hidden_channels)
            threads = torch.get_num_threads()
            torch.set_num_threads(self.threads)
            try:
                model = load_reference().UNet(1, 1, hidden_channels=width)
                self._precision = choose_precision(model, pick_device("auto"), read_config().precision)[0]
            finally:
                torch.set_num_threads(threads)
        return self._precision

    def kernel_environment(self, course):
        """The environment of the worker and its kernel: the mode's settings and nothing of the grader's own."""
        env = {name: value for name, value in os.environ.items()
               if not name.startswith("UNET_") and name not in ("PYTHONPATH", "PYTHONSTARTUP")}
        env.update(self.kernel_settings(course / "checkpoints"))
        return env

    def _sandbox(self, course, slot, worker_env):
        """Set up the sandboxed kernel of one submission; returns the job's "sandbox" entry.

        The kernel runs in autograder.sandbox as uid SANDBOX_UID_BASE + slot, sees the Python environment and
        the data read-only and writes only `course`/kernel; only the settings of kernel_settings() reach it.
        """
        from autograder import sandbox
        scratch = course / "kernel"
        runtime = scratch / "runtime"
        runtime.mkdir(parents=True)
        settings = self.kernel_settings(scratch / "checkpoints")
        settings["MPLCONFIGDIR"] = str(_matplotlib_cache(scratch / ".matplotlib"))
        spec = sandbox.write_kernelspec(course / "jupyter", scratch, slot, readonly=[self.data], env=settings)
        kernel_json = json.loads((spec / "kernel.json").read_text())
        kernel_json["interrupt_mode"] = "message"      # a signal cannot reach into the sandbox's own session
        (spec / "kernel.json").write_text(json.dumps(kernel_json, indent=1))
        uid = sandbox.SANDBOX_UID_BASE + slot
        for path in (runtime, scratch / ".matplotlib", *(scratch / ".matplotlib").iterdir()):
            os.chown(path, uid, uid)
        return {"uid": uid, "runtime": str(runtime), "kernel_name": sandbox.KERNEL_NAME}

    def hard_limit(self):
        """Seconds after which a whole submission is stopped: far beyond the sum of its cells' limits."""
        other_cells = sum(1 for cell in self.release.cells if cell.cell_type == "code") - len(LONG_CELLS)
        return len(LONG_CELLS) * max(self.timeout, self.mode.long_cell_timeout) + other_cells * self.timeout + 300

    def _run_worker(self, job_path, course, job, env):
        log_path = course / "worker.log"
        with open(log_path, "w") as log:
            process = subprocess.Popen([sys.executable, "-m", "autograder.worker", str(job_path)], cwd=REPO_ROOT,
                                       env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            self._running.add(process)
            try:
                process.wait(timeout=self.hard_limit())
            except subprocess.TimeoutExpired:
                _kill(process)
                return {"status": f"grading stopped after {self.hard_limit()} s"}
            finally:
                self._running.discard(process)
        outcome_path = course / "outcome.json"
        if process.returncode != 0 or not outcome_path.exists():
            tail = log_path.read_text(errors="replace")[-2000:]
            self.log(f"{job['student']}: the grading worker failed (exit {process.returncode}):\n{tail}")
            return {"status": f"grading error (worker exit {process.returncode})"}
        return json.loads(outcome_path.read_text())


def _matplotlib_cache(folder):
    """`folder` with a copy of this machine's matplotlib font list, if it has one: a fresh sandbox would
    otherwise spend a second or two rebuilding it for every submission."""
    folder.mkdir(parents=True, exist_ok=True)
    home_cache = pathlib.Path(os.environ.get("MPLCONFIGDIR") or pathlib.Path.home() / ".cache" / "matplotlib")
    for font_list in home_cache.glob("fontlist-*.json"):
        shutil.copyfile(font_list, folder / font_list.name)
    return folder


def _kill(process):
    """Kill a worker and everything in its process group (a sandboxed kernel dies with its parent)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def read_scores(gradebook, student):
    """({grade_id: score}, [grade_ids needing manual grading]) from a course's gradebook, via nbgrader's API."""
    try:
        with Gradebook(f"sqlite:///{gradebook}") as gb:
            submission = gb.find_submission(ASSIGNMENT, student)
            grades = [grade for notebook in submission.notebooks for grade in notebook.grades]
            scores = {grade.name: float(grade.score or 0.0) for grade in grades}
            return scores, [grade.name for grade in grades if grade.needs_manual_grade]
    except MissingEntry:
        return {}, []


def use_sandbox(requested, mode):
    """(whether to sandbox the kernels, why not): `requested` is the --sandbox choice, auto, on or off.

    Full mode runs unsandboxed: the sandbox shows the kernel no GPU device (and its memory limit would
    count the GPU driver's mappings), so it is only for the CPU modes.
    """
    if requested == "off":
        return False, "--sandbox off"
    if mode == "full":
        return False, "full mode needs the GPU, which the sandbox does not show to the kernel"
    from autograder import sandbox
    status = sandbox.probe()
    return status.available, status.reason


def prepare_data():
    """Make sure the kernels will find the ISBI 2012 data; returns an error message, or None when they will.

    With UNET_DATA_DIR set, its files are checked once here. Without it, the volumes are downloaded once
    (into pooch's cache) here, and each batch gives its kernels a folder with the three files
    (``Grader.data_folder``), rather than each kernel downloading its own copy.
    """
    from data.isbi2012 import DataUnavailableError, load_isbi2012
    try:
        load_isbi2012()
    except (DataUnavailableError, ValueError) as error:
        return f"cannot get the ISBI 2012 data: {error}"
    return None


def data_folder(work):
    """The folder the kernels read the data from: UNET_DATA_DIR, else the three volumes written into `work`."""
    if os.environ.get("UNET_DATA_DIR"):
        return pathlib.Path(os.environ["UNET_DATA_DIR"]).resolve()
    import tifffile
    from data.isbi2012 import VOLUMES, load_isbi2012
    folder = pathlib.Path(work) / "data"
    folder.mkdir(parents=True, exist_ok=True)
    for name, volume in zip(VOLUMES, load_isbi2012()):
        tifffile.imwrite(folder / f"{name}.tif", volume)
    return folder
