"""The command line of the instructor and grader tools: ``unet-course`` (or ``python -m autograder``).

    unet-course release [--check] [--repo OWNER/NAME] [--branch BRANCH]
                        [--course DIR [--exchange DIR] [--assignment NAME]]
    unet-course grade PATH... --out DIR [--workers N] [--mode auto|full|quick|smoke] [--timeout SECONDS]
                      [--sandbox auto|on|off] [--disk-quota GIB] [--export canvas|moodle]...
                      [--cluster tcp://HOST:8786 | --cluster local] [--force] [--lock-wait SECONDS]
    unet-course grade --course DIR [--assignment NAME] [--out DIR] [the options above]
        and the limits on what comes in (grading/limits.py): [--notebook-bytes SIZE] [--zip-bytes SIZE]
        [--zip-entries N] [--zip-ratio N] [--name-bytes N] [--folder-files N]
    unet-course gradescope --out autograder.zip [--training-visibility VISIBILITY] [--mode quick|smoke]

In: the command line. Out: the exit code (0 done, 1 a stale release under --check, 2 a usage error, 3 another
grading run holds the output folder or the course, or a locked gradebook; 130 after Ctrl-C, 143 after SIGTERM,
what was graded kept). Each command's options are the fields of one dataclass below (``ReleaseOptions``,
``GradeOptions``,
``GradescopeOptions``; grading's own in ``grading/options.py``): the parser is derived from them
(``autograder.options``), and the command gets them back as that dataclass.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import pathlib
import sys
from typing import Callable

from autograder.grading import lock, stopping
from autograder.grading.limits import IntakeLimits
from autograder.grading.options import CPU_MODES, GradingOptions
from autograder.integrations.gradescope import VISIBILITIES
from autograder.options import add_arguments, from_namespace, option, seconds, whole_number
from autograder.release import generate as release  # light: no PyTorch
from autograder.release.course import ASSIGNMENT

PROG = "unet-course"


def course_option(help: str):
    """--course DIR, of release and grade: an nbgrader course folder, and what the command does with it."""
    return option(None, help, metavar="DIR")


def assignment_option():
    """--assignment, of release --course and grade --course: the assignment's name in the nbgrader course."""
    return option(ASSIGNMENT, f"the assignment's name in the course (default {ASSIGNMENT})", metavar="NAME")


@dataclasses.dataclass(frozen=True)
class ReleaseOptions:
    check: bool = option(False, "write nothing; exit 1 if the source's inlined cells or the release are stale")
    repo: str | None = option(
        None,
        "the GitHub repository the release's Colab link (and the README's badge) opens it from (default: the "
        f"clone's GitHub remote origin, else {release.DEFAULT_REPO})",
        metavar="OWNER/NAME",
    )
    branch: str | None = option(
        None,
        f"the branch of that link (default: the remote's default branch, else {release.DEFAULT_BRANCH})",
        metavar="BRANCH",
    )
    course: str | None = course_option(
        "also release into this nbgrader course: source/NAME/ and release/NAME/, and its gradebook knows the assignment"
    )
    assignment: str = assignment_option()
    exchange: str | None = option(
        None,
        "with --course: the nbgrader exchange the course hands the assignment out through, written into its "
        "nbgrader_config.py and made if need be (default: the course's own setting, else nbgrader's, "
        "/usr/local/share/nbgrader/exchange)",
        metavar="DIR",
    )


@dataclasses.dataclass(frozen=True)
class GradeOptions(IntakeLimits, GradingOptions):
    paths: tuple = option(
        (),
        ".ipynb files, folders holding them, or an LMS's bulk download (.zip) as it is",
        metavar="PATH",
        positional=True,
    )
    out: str | None = option(
        None, "where grades.csv and feedback/ go (with --course, by default COURSE/reports/NAME)", metavar="DIR"
    )
    course: str | None = course_option(
        "grade the nbgrader course in DIR in place: its submitted/<student>/NAME/, into its gradebook, autograded/ "
        "and feedback/"
    )
    assignment: str = assignment_option()
    export: tuple = option(
        (),
        "also write the LMS's grade import CSV next to grades.csv (grades-canvas.csv, grades-moodle.csv); "
        "repeat for both",
        choices=("canvas", "moodle"),
        repeat=True,
    )
    workers: int = option(
        1,
        "submissions graded at the same time (default 1); with --cluster local, the number of Dask worker processes",
        type=whole_number,
        metavar="N",
    )
    template: str | None = option(
        None,
        "the course template prepared in DIR (made there when it is missing or was made from another release or "
        "grader): made once, then only copied for each submission (the Gradescope image makes it in setup.sh)",
        metavar="DIR",
    )
    cluster: str | None = option(
        None,
        "grade on a Dask distributed cluster, one task per submission: the scheduler's address "
        "(tcp://HOST:8786), or `local` for --workers processes on this machine; full-mode tasks run only on "
        "workers started with --resources GPU=1",
        metavar="ADDRESS",
    )
    force: bool = option(
        False,
        "grade every submission again; by default a submission whose result is kept in DIR/results/ under the "
        "same key (the same file, release, grader's code, policy, mode, data and settings) is reused, and only new "
        "or changed ones are graded",
    )
    lock_wait: float = option(
        lock.DEFAULT_WAIT,
        "how long to wait while another grading run holds the output folder (or the course) "
        f"before stopping with exit status {lock.BUSY_EXIT} (default {lock.DEFAULT_WAIT:g})",
        type=seconds,
        metavar="SECONDS",
    )

    def grading(self) -> GradingOptions:
        """The options each submission's grading worker gets."""
        return GradingOptions(**self.job())


@dataclasses.dataclass(frozen=True)
class GradescopeOptions:
    out: str | None = option(None, "the bundle to write, e.g. autograder.zip", metavar="ZIP", required=True)
    training_visibility: str = option(
        "visible", "when students see the training test's result (default visible)", choices=VISIBILITIES
    )
    mode: str = option(
        "quick", "quick (default): Gradescope has no GPU; smoke: for testing the bundle only", choices=CPU_MODES
    )


@dataclasses.dataclass(frozen=True)
class Command:
    options: type
    run: Callable  # run(options, parser) -> exit code
    help: str
    description: str | None = None


def grade_command(folder, out, mode: str, workers: int, *more: str) -> list[str]:
    """``python -m autograder grade FOLDER --out OUT --mode MODE --workers N MORE...`` with this Python: the command
    line the benchmarks and the GPU check grade with, as a grader would."""
    return [sys.executable, "-m", "autograder", "grade", str(folder), "--out", str(out), "--mode", mode, "--workers",
            str(workers), *more]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        add_arguments(commands.add_parser(name, help=command.help, description=command.description), command.options)
    args = parser.parse_args(argv)
    command = COMMANDS[args.command]
    return command.run(from_namespace(command.options, args), parser)


def error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def run_release(options: ReleaseOptions, parser: argparse.ArgumentParser) -> int:
    try:
        release.colab_url(options.repo or "x/x", options.branch or "x")  # usage errors before any work
    except ValueError as wrong:
        parser.error(str(wrong))
    if options.course and options.check:
        parser.error("--check compares the repository's release only; leave out --course")
    if options.exchange and not options.course:
        parser.error("--exchange is the exchange of an nbgrader course: give --course DIR too")
    stale = release.release(check=options.check, repo=options.repo, branch=options.branch)
    if options.check:
        for item in stale:
            print(f"stale: {item} (run `{PROG} release{_link_options(options)}`)")
        return 1 if stale else 0
    print("\n".join(f"updated {item}" for item in stale) or "release is up to date")
    if options.course:
        from autograder.integrations import nbgrader_course

        course = pathlib.Path(options.course)
        try:
            said = nbgrader_course.release_into(
                course, options.assignment, options.repo, options.branch, options.exchange
            )
        except nbgrader_course.CourseError as wrong:
            parser.error(str(wrong))
        print("\n".join(said))
    return 0


def _link_options(options: ReleaseOptions) -> str:
    return "".join(
        f" --{name} {value}" for name, value in (("repo", options.repo), ("branch", options.branch)) if value
    )


def run_gradescope(options: GradescopeOptions, parser: argparse.ArgumentParser) -> int:
    from autograder.integrations import gradescope

    said = gradescope.make_bundle(pathlib.Path(options.out), options.mode, options.training_visibility)
    print(f"wrote {options.out}: " + "; ".join(said))
    return 0


def run_grade(options: GradeOptions, parser: argparse.ArgumentParser) -> int:
    from autograder.grading.submissions import UsageError
    from autograder.integrations import lms

    if bool(options.paths) == bool(options.course):
        parser.error("give the submissions (PATH...) or an nbgrader course (--course DIR), one of the two")
    if options.course and options.cluster:
        parser.error("--course grades on this machine; leave out --cluster")
    with contextlib.ExitStack() as scratch:
        course = None
        try:
            if options.course:
                course, locked = _course(options)
                if locked:
                    error(locked)
                    return 3
                submissions = course.submissions()
            else:
                submissions, notes = lms.collect(list(options.paths), scratch, options.limits())
                print("\n".join(notes), end="\n" if notes else "")
        except UsageError as wrong:
            parser.error(str(wrong))  # exit code 2 with the usage line
        for refused in (submission for submission in submissions if submission.refused):
            print(f"{refused.student}: refused, {refused.refused} (its row says so)")
        if options.out is None and course is None:
            parser.error("--out DIR is needed (where grades.csv and feedback/ go)")
        out = pathlib.Path(options.out) if options.out else course.root / "reports" / options.assignment
        if out.exists() and not out.is_dir():
            parser.error(f"--out {out} is a file, not a folder")
        try:
            with holding(options, out, course):
                code = (
                    grade_on_cluster(options, submissions, out)
                    if options.cluster
                    else grade_here(options, submissions, out, course, scratch)
                )
                if course is None:
                    lms.write_left_out(out, notes)
                if code == 0:
                    for kind in options.export:
                        print(f"wrote {lms.export(kind, out)}")
                return code
        except lock.Busy as busy:
            error(str(busy))
            return lock.BUSY_EXIT
        except KeyboardInterrupt as stop:  # Ctrl-C, SIGTERM: the kernels are stopped by now
            error(
                f"stopped ({stop or 'Ctrl-C'}); what was graded is kept in {out}: the same command grades only "
                "what is missing"
            )
            return stopping.exit_status(stop)


@contextlib.contextmanager
def holding(options: GradeOptions, out: pathlib.Path, course=None):
    """Hold the course's lock (with --course) and the output folder's for the block, with SIGTERM raising as
    Ctrl-C does; lock.Busy when another run holds either past --lock-wait."""
    with contextlib.ExitStack() as held:
        held.enter_context(stopping.stoppable())
        if course is not None:
            held.enter_context(
                lock.hold(
                    lock.course_lock(course.root, course.name),
                    f"the course {course.root} ({course.name})",
                    options.lock_wait,
                )
            )
        held.enter_context(lock.hold(out / lock.LOCK_NAME, f"the output folder {out}", options.lock_wait))
        yield


def _course(options: GradeOptions):
    """(the nbgrader course of --course, checked; why its gradebook cannot be written now, or None).
    A locked gradebook stops us before any grading; a course without the assignment is a UsageError."""
    from autograder.integrations import nbgrader_course

    course = nbgrader_course.Course(pathlib.Path(options.course), options.assignment, options.limits())
    try:
        course.ensure_writable()
    except nbgrader_course.GradebookLocked as locked:
        return course, str(locked)
    course.check()
    return course, None


def grade_here(options: GradeOptions, submissions: list, out: pathlib.Path, course=None, scratch=None) -> int:
    """Grade on this machine (into the nbgrader `course` too, when given); the exit code."""
    from autograder.grading import grade as grading  # imports nbgrader and PyTorch: only when grading
    from autograder.grading.batch import Grader
    from autograder.grading.calibration import ReferenceRunFails
    from autograder.reports import kept
    from autograder.sandbox.kernel import Limits

    grading_options = options.grading().resolved()
    mode = grading_options.mode
    problem = grading.prepare_data()
    if problem:
        error(problem)
        return 2
    limits = Limits(disk_bytes=options.disk_bytes)
    sandboxed, reason = grading.use_sandbox(options.sandbox, mode, limits)
    if options.sandbox == "on" and not sandboxed:
        error(f"--sandbox on, but {reason}")
        return 2
    print(
        f"grading {len(submissions)} submission(s) in {mode} mode with {options.workers} worker(s), "
        + (f"each kernel in a {reason}" if sandboxed else f"WITHOUT a sandbox ({reason})")
    )
    settings = {"nbgrader course": f"{course.root} {course.name}"} if course is not None else {}
    grader = Grader(
        out,
        grading_options,
        workers=options.workers,
        limits=limits,
        sandbox=sandboxed,
        sandbox_reason="" if sandboxed else reason,
        force=options.force,
        lock_wait=options.lock_wait,
        key_settings=settings,
        template=options.template,
    )
    if course is not None:  # the graded notebooks wait beside the kept results, for a later run too
        course.attach(grader.session, out / kept.FOLDER / "nbgrader")
    try:
        results = grader.grade(submissions)
    except ReferenceRunFails as unfair:
        error(str(unfair))
        return 2
    if course is not None:
        from autograder.integrations.nbgrader_course import GradebookLocked

        try:
            course.record(results)
        except GradebookLocked as locked:
            error(str(locked))
            return 3
    return 0


def grade_on_cluster(options: GradeOptions, submissions: list, out: pathlib.Path) -> int:
    from autograder.grading import cluster
    from autograder.grading.submissions import UsageError

    try:
        return cluster.main(
            options.cluster,
            submissions,
            out,
            options.grading(),
            workers=options.workers,
            force=options.force,
            lock_wait=options.lock_wait,
        )
    except UsageError as wrong:
        error(str(wrong))
        return 2


COMMANDS = {
    "release": Command(ReleaseOptions, run_release, "regenerate UNet_Assignment.ipynb from solutions/"),
    "grade": Command(
        GradeOptions,
        run_grade,
        "grade submitted notebooks with nbgrader: DIR/grades.csv and DIR/feedback/<student>.html",
        "Grade .ipynb submissions (files, folders of them, or nbgrader's submitted/ folder) with nbgrader's autograde "
        "in a course folder of its own; no course setup needed.",
    ),
    "gradescope": Command(
        GradescopeOptions,
        run_gradescope,
        "write a Gradescope autograder bundle (setup.sh, run_autograder, the grader and the data)",
    ),
}
