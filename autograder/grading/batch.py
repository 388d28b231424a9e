"""A batch's life in its output folder: which submissions need grading, each result kept as it finishes, the class
files rebuilt from the kept results, and a clean stop on Ctrl-C or SIGTERM. ``Grader`` grades a batch on this
machine; it and the Dask cluster (``cluster.grade_batch``) run their batches through ``Batch``.

In: the submissions, the output folder and the key of this run's grading (``keys.grading_key``). Out: the results
in submission order (kept in ``OUT/results/`` as each finishes, ``reports/kept.py``), then ``grades.csv``,
``mistakes.csv`` and ``summary.html`` rebuilt from them, each atomically, and a summary of what was graded and
what was reused.

A kept result is reused only when every entry of its key matches this run's (``keys.py``: the file, the release,
the grader's code, the policy, the mode, the data and the settings); ``force`` grades everything again. A student
with a kept result who is not in this run's input is left out of grades.csv (the input decides who is in the
class); the record stays in ``results/`` and the summary names the student. After an interruption the class files
hold every student whose result is valid (reused or graded now) and name the students still missing; the same
command then grades only them. An interruption before anything new was graded leaves the class files as they were.
"""

from __future__ import annotations

import concurrent.futures
import os
import pathlib
import tempfile
import time

from autograder.grading import keys, lock
from autograder.grading.grade import Session
from autograder.grading.options import GradingOptions
from autograder.grading.stopping import shielded, stoppable
from autograder.grading.submissions import Submission
from autograder.reports import kept, report
from autograder.reports.result import Result

GRADER_FAILURE = "grading error"  # a row's status when the grader failed, not the submission (never kept)


class Batch:
    """One run over `submissions` into `out`: ``todo`` lists (index, submission) to grade; ``done`` keeps each
    result as it finishes; ``finish`` writes the class files and says what happened."""

    def __init__(
        self, out: pathlib.Path, submissions: list, key: dict, tests: list[str], log=print, force: bool = False
    ):
        self.out, self.submissions, self.tests, self.log = pathlib.Path(out), submissions, tests, log
        self.out.mkdir(parents=True, exist_ok=True)
        kept.remove_partials(self.out)
        records = kept.load(self.out)
        self.results: list[Result | None] = [None] * len(submissions)
        self.keys, self.todo, self.reused, reasons = [], [], [], {}
        for index, submission in enumerate(submissions):
            wanted = {"submission": keys.submission_digest(submission), **key}
            self.keys.append(wanted)
            why = self._why(records.get(submission.student), wanted, force)
            if why:
                self.todo.append((index, submission))
                reasons[why] = reasons.get(why, 0) + 1
            else:
                record = records[submission.student]
                self.results[index] = record.result
                self.reused.append(submission.student)
        present = {submission.student for submission in submissions}
        self.left_out = sorted(student for student in records if student not in present)
        self.graded, self.unkept = 0, []
        self._say_plan(reasons)

    @staticmethod
    def _why(record: kept.Record | None, wanted: dict, force: bool) -> str:
        """Why a submission is graded ("new", "--force", "changed: grader's code, ..."); "" to reuse `record`."""
        if force or record is None:
            return "--force" if force else "new"
        changed = [keys.WORDS.get(name, name) for name in kept.differences(record.key, wanted)]
        return f"changed: {', '.join(changed)}" if changed else ""

    def _say_plan(self, reasons: dict) -> None:
        said = "; ".join(f"{count} {why}" for why, count in reasons.items())
        self.log(
            f"{len(self.todo)} of {len(self.submissions)} submission(s) to grade"
            + (f" ({said})" if said else "")
            + (
                f"; {len(self.reused)} kept result(s) reused (the same file, release, grader's code, policy, "
                f"mode, data and settings)"
                if self.reused
                else ""
            )
        )

    def done(self, index: int, result: Result) -> None:
        """Keep a finished submission's result (its feedback page is already written) and log its line. A failure
        of the grader itself ("grading error ...": a worker that crashed, a lost cluster worker) is in grades.csv but
        not kept: the next run grades it again."""
        if result.status.startswith(GRADER_FAILURE):
            self.unkept.append(result.student)
        else:
            with shielded():  # a signal now would leave the page without its record
                kept.keep(self.out, result, self.keys[index])
        self.results[index] = result
        self.graded += 1
        self.log(f"[{self.graded}/{len(self.todo)}] {result.line()}")

    @property
    def missing(self) -> list[str]:
        return [submission.student for submission, result in zip(self.submissions, self.results) if result is None]

    def finish(self, stopped: BaseException | None = None) -> list[Result]:
        """Write grades.csv, mistakes.csv and summary.html from every valid result (all of them, unless `stopped`)
        and say what this run did; returns the results in submission order (None where missing)."""
        with shielded():
            results = [result for result in self.results if result is not None]
            note = self.note()
            if stopped is None or self.graded or not (self.out / "grades.csv").exists():  # else: left as it was
                report.write_batch(self.out, results, self.tests, note)
            self.log(("stopped: " if stopped is not None else "") + note)
        return self.results

    def note(self) -> str:
        """What this run did, in words (printed, and in summary.html)."""
        parts = [
            f"{self.graded} submission(s) graded in this run",
            f"{len(self.reused)} kept from earlier runs (same key): {', '.join(self.reused) or 'none'}",
        ]
        if self.missing:
            parts.append(
                f"{len(self.missing)} not graded yet, left out of grades.csv (run the same command again to "
                f"grade only them): {', '.join(self.missing)}"
            )
        if self.unkept:
            parts.append(
                f"{len(self.unkept)} grading error(s) of the grader's own, not kept (graded again by the next "
                f"run): {', '.join(self.unkept)}"
            )
        if self.left_out:
            parts.append(
                f"{len(self.left_out)} kept result(s) of students not in this input left out of grades.csv "
                f"(their records stay in {kept.FOLDER}/): {', '.join(self.left_out)}"
            )
        return "; ".join(parts) + "."


class Grader:
    """Grades a batch of submissions on this machine into the folder `out` (see the module docstring), through a
    ``Batch``: only what is not kept under the same key (all with `force`), each result kept as it finishes,
    the output folder locked for the run (waiting up to `lock_wait` seconds). `key_settings`: more of what
    reaches a row, for the key (e.g. the nbgrader course that keeps the graded notebooks); `template`: a course
    template folder made once (the Gradescope image's), else one is made for the run."""

    def __init__(
        self,
        out,
        options: GradingOptions | str = "quick",
        workers=1,
        log=print,
        keep_work=None,
        sandbox=False,
        sandbox_reason="",
        limits=None,
        force=False,
        lock_wait=lock.DEFAULT_WAIT,
        key_settings=None,
        template=None,
    ):
        self.out = pathlib.Path(out)
        self.template = template  # a course template folder made once (template.prepared_template)
        self.workers = max(1, workers)
        self.log, self.force, self.lock_wait, self.key_settings = log, force, lock_wait, key_settings or {}
        self.session = Session(
            options, (os.cpu_count() or 1) // self.workers, sandbox, sandbox_reason, log, keep_work, limits
        )

    def key(self) -> dict:
        """The key entries this grader's results share (keys.grading_key): the grading options (the mode, the
        time limit, the output cap, ...) and the sandbox with the limits every row's status names."""
        session, sandbox = self.session, self.session.sandbox_label
        if session.sandbox:
            from autograder.sandbox import kernel

            limits = session.limits or kernel.Limits(disk_bytes=session.options.disk_bytes)
            sandbox = kernel.describe(limits, kernel.cgroup_layout(limits)[0], gpu=session.mode.name == "full")
        return keys.grading_key(
            session.mode.name, session.mode.settings, {**session.options.job(), "sandbox": sandbox, **self.key_settings}
        )

    def grade(self, submissions: list[Submission]) -> list[Result]:
        """Grade what needs grading; write grades.csv, mistakes.csv, summary.html and feedback/; return the results
        in submission order. Ctrl-C or SIGTERM stops the kernels, keeps what was graded and raises."""
        started = time.monotonic()
        with (
            lock.hold(self.out / lock.LOCK_NAME, f"the output folder {self.out}", self.lock_wait, self.log),
            stoppable(),
        ):
            run = Batch(self.out, submissions, self.key(), list(self.session.tests), self.log, self.force)
            try:
                if run.todo:
                    self._grade(run)
            except BaseException as stop:
                run.finish(stop)
                raise
            results = run.finish()
        self.log(
            f"graded {run.graded} submission(s) in {self.session.mode.name} mode in "
            f"{time.monotonic() - started:.1f} s ({len(run.reused)} reused): {self.out / 'grades.csv'}, "
            f"{self.out / 'feedback'}/"
        )
        return results

    def _grade(self, run: Batch) -> None:
        """Grade `run.todo`, `workers` at a time, each kept as it finishes; on a stop, every kernel is stopped and
        every scratch folder removed before this returns (raising)."""
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="unet-grading-") as work:
            work = pathlib.Path(work)
            self.session.prepare(work, template=self.template)
            self.log(f"course template ready in {time.monotonic() - started:.1f} s")
            pool, futures = concurrent.futures.ThreadPoolExecutor(self.workers), {}
            try:
                futures = {
                    pool.submit(
                        self.session.grade_one, submission, work / f"course-{index}", self.out / "feedback", index + 1
                    ): index
                    for index, submission in run.todo
                }
                for future in concurrent.futures.as_completed(futures):
                    run.done(futures[future], future.result())
            except BaseException:  # Ctrl-C, SIGTERM: stop every worker, wait for their cleanup
                with shielded():
                    self.session.stop(everything=True)
                    pool.shutdown(wait=True, cancel_futures=True)
                    for future, index in futures.items():  # kept too: what finished before the stop reached it
                        if (
                            run.results[index] is None
                            and future.done()
                            and not future.cancelled()
                            and future.exception() is None
                        ):
                            run.done(index, future.result())
                raise
            pool.shutdown()
