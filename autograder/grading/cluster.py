"""Grade a batch on a Dask distributed cluster: one submission is one Dask task.

    unet-course grade PATH... --out DIR --cluster tcp://SCHEDULER:8786
    unet-course grade PATH... --out DIR --cluster local --workers N

On this machine (the client), ``grade_batch`` reads each submission's bytes and submits one
``grade_submission`` task per submission to the cluster's scheduler. The task runs on a worker machine,
which shares nothing with this one but a clone of the repository at the same commit: it receives the
student id, the file's name and bytes and the batch's ``Settings``, and grades with the local grader's own
machinery (``grade.Session.grade_one``) in a temporary folder. Each worker process makes its session (the
template course, the data, its decision on the sandbox, ``grade.use_sandbox``) once, on its first task: the
client's log says, for every submission, whether its kernel ran in a sandbox and where.

The task returns the submission's ``Result`` and its feedback page's bytes; the client writes the same
grades.csv and feedback/ as local grading, in submission order, with ``report``'s own functions. A task that
raises (an exception, a worker lost again and again) becomes a row "grading error on the cluster: ...".

Full mode needs a GPU: its tasks ask for the resource ``GPU: 1``, which only workers started with
``dask worker ... --resources GPU=1`` offer; the other modes run on any worker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import itertools
import logging
import os
import pathlib
import secrets
import shutil
import tempfile
import threading
import time
from typing import TYPE_CHECKING, Callable

from autograder import assignment
from autograder.grading import batch, grade, keys, limits, lock, stopping
from autograder.grading.options import GradingOptions
from autograder.grading.submissions import Submission, UsageError
from autograder.release.course import RELEASE_NOTEBOOK, SOURCE_NOTEBOOK
from autograder.reports import report
from autograder.reports.result import Result, status

if TYPE_CHECKING:  # annotations only: distributed is imported when used
    from distributed import Client

CONNECT_TIMEOUT = "10s"  # to reach a scheduler, and for a worker to join it
SLOT_BASE = 1000  # sandbox slots (uids) of cluster tasks: apart from a local batch's 1, 2, ...
GPU = {"GPU": 1}  # the resource full-mode tasks ask for
# A local scheduler hands each worker one task at a time (Dask's default queues a second one behind a running
# submission, which may take an hour in full mode); for a scheduler of your own, set it in its environment.
# Nor does it give its workers Dask's thread settings (OMP_NUM_THREADS=1, ...): the nannies would write them into
# this process's own environment, for every later kernel (the grader sets the kernels' threads itself).
LOCAL_SCHEDULER = {"distributed.scheduler.worker-saturation": 1.0, "distributed.nanny.pre-spawn-environ": {}}
_log = logging.getLogger(__name__)
_setup_lock = threading.Lock()
_sessions = {}  # Settings -> this worker process's grading Session for them, made once


@dataclasses.dataclass(frozen=True)
class Settings:
    """What every task of a batch gets besides its submission."""

    options: GradingOptions  # the mode already resolved; the --sandbox choice, auto, on or off: each worker resolves it
    digest: str  # assignment_digest() of the client: workers must have the same notebooks
    slots: tuple = ()  # (host, tasks it runs at once) pairs: the kernels on a host share its cores

    def tasks_on(self, host: str, default: int) -> int:
        """The tasks the workers on `host` run at once (`default` for a host not listed)."""
        return dict(self.slots).get(host, default)


# ---- on the worker -----------------------------------------------------------------------------------------


def grade_submission(student: str, file_name: str, content: bytes, settings: Settings) -> tuple[Result, bytes]:
    """The Dask task: grade one submission (its bytes) on this worker; returns (its Result, its feedback page)."""
    from distributed import get_worker

    worker = get_worker()
    host = _host(worker.address)
    key, session = worker.get_current_task(), _session(settings, worker, host)
    with tempfile.TemporaryDirectory(prefix="unet-task-", dir=worker.local_directory) as folder, _claim_slot() as slot:
        folder = pathlib.Path(folder)
        path = folder / "submission" / pathlib.PurePath(file_name).name
        path.parent.mkdir()
        path.write_bytes(content)
        result = session.grade_one(Submission(student, path), folder / "course", folder / "feedback", slot, tag=key)
        page = result.feedback.read_bytes()
    result.host, result.feedback = host, None
    return result, page


def stop_tasks(keys: list) -> None:
    """Kill the grading processes of the tasks `keys` running in this worker process (run by client.run when
    the grader presses Ctrl-C: Dask cannot stop a running task, but its task then ends at once)."""
    for session in _sessions.values():
        for key in keys:
            session.stop(tag=key)


def assignment_digest() -> str:
    """A fingerprint of the assignment's notebooks (source and release), the same on every up-to-date clone."""
    digest = hashlib.sha256()
    for notebook in (SOURCE_NOTEBOOK, RELEASE_NOTEBOOK):
        digest.update(notebook.read_bytes())
    return digest.hexdigest()[:16]


def _session(settings, worker, host):
    """This worker process's grading session for the batch's settings: made on its first task, with the template
    course (and the data) in its Dask scratch folder, which Dask removes with the worker."""
    if settings.digest != assignment_digest():
        raise RuntimeError(
            "this worker's clone has other assignment notebooks than the grader's: "
            "check out the grader's commit on the worker machine"
        )
    with _setup_lock:
        if settings not in _sessions:
            options = settings.options
            sandboxed, reason = grade.use_sandbox(options.sandbox, options.mode)
            if options.sandbox == "on" and not sandboxed:
                raise RuntimeError(f"--sandbox on, but {reason}")
            if not sandboxed:
                _log.warning("grading WITHOUT a sandbox: %s", reason)
            error = grade.prepare_data()
            if error:
                raise RuntimeError(error)
            threads = max(1, (os.cpu_count() or 1) // settings.tasks_on(host, worker.state.nthreads))
            session = grade.Session(options, threads, sandboxed, reason, log=_log.warning)
            work = pathlib.Path(worker.local_directory) / f"unet-course-{len(_sessions)}"
            shutil.rmtree(work, ignore_errors=True)  # a first task that failed half-way
            session.prepare(work)
            _sessions[settings] = session
    return _sessions[settings]


@contextlib.contextmanager
def _claim_slot():
    """A sandbox slot no other task on this machine holds (a lock file each), so each kernel gets its own uid."""
    folder = pathlib.Path(tempfile.gettempdir()) / "unet-grading-slots"
    folder.mkdir(exist_ok=True)
    for number in itertools.count(1):
        with open(folder / f"{number}.lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            yield SLOT_BASE + number
            return


def _host(address):
    from distributed.comm import get_address_host

    return get_address_host(address)


# ---- on the client -----------------------------------------------------------------------------------------


def connect(address: str, workers: int = 1, gpu: bool = False) -> Client:
    """A Client of the scheduler at `address`, or, for "local", of a LocalCluster of `workers` processes of
    one thread each (offering the GPU resource when `gpu`). Closing the client closes a local cluster.

    Raises:
        UsageError: the scheduler cannot be reached.
    """
    import dask
    from distributed import Client

    if address == "local":
        with dask.config.set(LOCAL_SCHEDULER):
            return Client(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                resources=GPU if gpu else None,
            )
    try:
        return Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as error:
        raise UsageError(f"cannot reach the Dask scheduler at {address}: {error}") from None


def cluster_mode(requested: str, client: Client) -> str:
    """The mode to grade in: 'auto' is full when a worker offers a GPU, else quick; a mode no worker can
    run (full without GPU workers, anything without workers) is a UsageError."""
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
    except TimeoutError:
        raise UsageError(f"no Dask worker has joined the scheduler {client.scheduler.address}") from None
    gpus = [name for name, info in _workers(client).items() if info.get("resources", {}).get("GPU", 0) >= 1]
    mode = requested if requested != "auto" else ("full" if gpus else "quick")
    if mode == "full" and not gpus:
        raise UsageError("full mode runs only on GPU workers (dask worker ... --resources GPU=1); none has joined")
    return mode


def host_slots(client: Client) -> dict[str, int]:
    """{host: tasks its workers run at once}: the kernels on a host share its cores among that many."""
    slots = {}
    for info in _workers(client).values():
        slots[info["host"]] = slots.get(info["host"], 0) + info["nthreads"]
    return slots


def _workers(client):
    return client.scheduler_info(n_workers=-1)["workers"]


def grade_batch(
    client: Client,
    submissions: list[Submission],
    out: pathlib.Path,
    options: GradingOptions | str,
    log: Callable = print,
    task: Callable = grade_submission,
    force: bool = False,
    lock_wait: float = lock.DEFAULT_WAIT,
) -> list[Result]:
    """Grade `submissions` on the cluster with `options` (or a mode's name, with the other options' defaults),
    mode resolved; write grades.csv and feedback/ into `out` as local grading does, through a ``batch.Batch``: only
    what is not kept under the same key (everything with `force`), each result kept as it lands, the output
    folder locked for the run.

    Returns the results (``result.Result``) in submission order. Ctrl-C or SIGTERM cancels the tasks not yet
    finished, keeps what landed and raises.
    """
    out = pathlib.Path(out)
    started = time.monotonic()
    tests = assignment.points()
    options = GradingOptions(mode=options) if isinstance(options, str) else options
    mode = options.mode
    settings = Settings(options, assignment_digest(), tuple(sorted(host_slots(client).items())))
    key = keys.grading_key(mode, grade.MODES[mode].settings, {**options.job(), "where": "a Dask cluster"})
    with lock.hold(out / lock.LOCK_NAME, f"the output folder {out}", lock_wait, log), stopping.stoppable():
        run = batch.Batch(out, submissions, key, list(tests), log, force)
        try:
            if run.todo:
                _grade_on(client, run, settings, task)
        except BaseException as stop:
            run.finish(stop)
            raise
        results = run.finish()
    log(
        f"graded {run.graded} submission(s) in {mode} mode on the cluster in {time.monotonic() - started:.1f} s "
        f"({len(run.reused)} reused): {out / 'grades.csv'}, {out / 'feedback'}/"
    )
    return results


def _grade_on(client, run, settings, task):
    """One task per submission of `run.todo`, each result kept as it lands; a file refused as it comes in is never
    sent to a worker. On a stop, the tasks are cancelled and their grading processes killed."""
    from distributed import as_completed

    mode, tests = settings.options.mode, assignment.points()
    contents = {index: _content(item) for index, item in run.todo}  # bytes, or why the file is refused
    for index, content in contents.items():
        if isinstance(content, str):
            run.done(index, _result(None, run.submissions[index].student, mode, tests, run.out, content))
    sent = [(index, item) for index, item in run.todo if isinstance(contents[index], bytes)]
    batch_id = secrets.token_hex(4)  # a later batch's tasks never share a stopped task's key
    futures = client.map(
        task,
        [item.student for _, item in sent],
        [item.path.name for _, item in sent],
        [contents[index] for index, _ in sent],
        settings=settings,
        pure=False,
        key=[f"grade-{batch_id}-{index}-{item.student}" for index, item in sent],
        resources=GPU if mode == "full" else None,
    )  # one graph: the scheduler queues it
    order = {future.key: index for future, (index, _) in zip(futures, sent)}
    try:
        for future in as_completed(futures):
            index = order[future.key]
            run.done(index, _result(future, run.submissions[index].student, mode, tests, run.out))
    except BaseException:  # Ctrl-C, SIGTERM: no task left running
        with stopping.shielded():
            client.cancel(futures)
            with contextlib.suppress(Exception):
                client.run(stop_tasks, [future.key for future in futures])
        raise


def _content(submission: Submission) -> bytes | str:
    """The bytes of a submission to send to a worker (at most its limit), or why it is refused."""
    if submission.refused:
        return submission.refused
    try:
        return limits.read_at_most(submission.path, submission.max_bytes)
    except limits.Refused as reason:
        return str(reason)
    except OSError as error:
        return f"unreadable file ({error.strerror})"


def _result(future, student, mode, tests, out, refused=""):
    """The task's Result, its feedback page written to out/feedback/; for a task that raised, or a file
    `refused` as it came in (no task was made), a Result that says so with zero points."""
    result, page = (Result(student, {}, dict(tests), mode, status(refused)), None) if refused else (None, None)
    try:
        if not refused:
            result, page = future.result()
    except Exception as error:
        problem = f"grading error on the cluster: {_one_line(error, 240)}"
        if error.__cause__ is not None:  # e.g. a scheduler that cannot import autograder
            problem += f" (caused by {_one_line(error.__cause__, 120)})"
        result, page = Result(student, {}, dict(tests), mode, status(problem)), None
    with tempfile.TemporaryDirectory(prefix="unet-feedback-") as folder:
        received = None
        if page is not None:
            received = pathlib.Path(folder) / "feedback.html"
            received.write_bytes(page)
        result.feedback = report.write_feedback(out / "feedback", result, received)
    return result


def _one_line(error, length):
    """'Type: message' on one line, at most about `length` characters."""
    message = " ".join(str(error).split())
    return f"{type(error).__name__}: {message[:length]}" if message else type(error).__name__


def main(
    address: str,
    submissions: list[Submission],
    out: pathlib.Path,
    options: GradingOptions,
    workers: int = 1,
    log: Callable = print,
    force: bool = False,
    lock_wait: float = lock.DEFAULT_WAIT,
) -> int:
    """The command line's --cluster: connect (or start a local cluster), grade, close. Raises UsageError."""
    mode = options.mode
    if address == "local":
        mode = grade.resolve_mode(mode)
        error = grade.prepare_data()  # download once here, not once per local worker
        if error:
            raise UsageError(error)
    with connect(address, workers, gpu=mode == "full") as client:
        mode = cluster_mode(mode, client)
        slots = host_slots(client)
        log(
            f"grading {len(submissions)} submission(s) in {mode} mode on the Dask cluster at "
            f"{client.scheduler.address} ({len(_workers(client))} worker(s), {sum(slots.values())} task slot(s) "
            f"on {len(slots)} machine(s)); each worker decides on the sandbox (--sandbox {options.sandbox})"
        )
        grade_batch(
            client, submissions, out, dataclasses.replace(options, mode=mode), log, force=force, lock_wait=lock_wait
        )
    return 0
