"""Grading on a Dask distributed cluster (autograder/grading/cluster.py), on real LocalClusters of 2 worker processes.

* One small batch (the reference, a buggy submission, a file that is not a notebook) through the command line
  with --cluster local: the rows the catalogue expects of the local grader (tests/test_grading.py checks the
  local grader against the same expectations). About 35 s on 2 cores.
* Tasks that fail on a worker (an exception, a worker process that dies, a worker with other assignment
  notebooks) become error rows while the other submissions land. About 30 s.
* Usage errors: modes no worker can run, a scheduler without workers, an unreachable scheduler.
"""

import dataclasses
import os
import socket

import dask
import pytest

from autograder.__main__ import main
from autograder.grading import cluster
from autograder.grading.options import GradingOptions
from autograder.grading.submissions import UsageError, find_submissions
from tests.catalogue import CATALOGUE, Variant, write
from tests.test_grading import check_row, grade, read_rows

pytestmark = pytest.mark.slow

BATCH = [
    variant for variant in CATALOGUE if variant.name in ("reference", "sigmoid_output+float64_crop", "not_a_notebook")
]


@pytest.fixture(scope="module")
def graded(data_env, tmp_path_factory):
    """The batch graded once on a local Dask cluster."""
    folder = tmp_path_factory.mktemp("cluster-submissions")
    students = [write(variant, folder) for variant in BATCH]
    out = tmp_path_factory.mktemp("cluster-graded") / "out"
    result = grade(
        folder, out, data_env, "--workers", "2", "--mode", "smoke", "--sandbox", "auto", "--cluster", "local"
    )
    print(result.stdout[-3000:], result.stderr[-3000:])
    return {"students": students, "cluster": {"result": result, "rows": read_rows(out), "out": out}}


def test_cluster_batch_gives_the_rows_the_catalogue_expects(graded):
    assert graded["cluster"]["result"].returncode == 0, graded["cluster"]["result"].stderr
    rows = graded["cluster"]["rows"]
    assert list(rows) == sorted(graded["students"])
    for variant in BATCH:
        check_row(rows[variant.student_id()], variant)
    assert {row["mode"] for row in rows.values()} == {"smoke"}


def test_cluster_batch_writes_feedback_and_says_where_each_kernel_ran(graded):
    feedback = graded["cluster"]["out"] / "feedback"
    assert sorted(path.stem for path in feedback.iterdir()) == sorted(graded["students"])
    assert "Grading report: smoke mode" in (feedback / "reference.html").read_text()
    assert "not a notebook" in (feedback / "not_a_notebook.html").read_text()
    log = graded["cluster"]["result"].stdout
    assert "on the Dask cluster" in log
    for student in graded["students"][:2]:  # the two that ran a kernel
        line = next(line for line in log.splitlines() if f"] {student}:" in line)
        assert ", in a sandbox" in line or ", WITHOUT a sandbox (" in line, line


# ---- failures on the workers -------------------------------------------------------------------------------


def flaky_task(student, file_name, content, settings):
    """cluster.grade_submission, except for the students named after the way their task fails."""
    if student == "task_raises":
        raise ValueError("the task failed on purpose")
    if student == "worker_dies":
        os._exit(1)
    if student == "other_commit":
        settings = dataclasses.replace(settings, digest="0" * 16)
    if student == "too_large":
        raise AssertionError("a file refused as it came in was sent to a worker")
    return cluster.grade_submission(student, file_name, content, settings)


@pytest.fixture(scope="module")
def client(data_env):
    """A local cluster of 2 processes whose scheduler gives up on a task after one lost worker (and the
    scheduler gives each worker one task at a time: only the task that kills its worker is lost with it)."""
    with pytest.MonkeyPatch.context() as patch, dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        patch.setenv("UNET_DATA_DIR", data_env["UNET_DATA_DIR"])  # the workers inherit it
        ENVIRONMENT_BEFORE_CLUSTER.update(os.environ)
        with cluster.connect("local", workers=2) as client:
            yield client


ENVIRONMENT_BEFORE_CLUSTER = {}


def test_failing_tasks_become_error_rows_and_the_others_land(client, tmp_path):
    names = ["not_a_notebook", "task_raises", "worker_dies", "other_commit", "empty_file", "too_large"]
    variants = {variant.name: variant for variant in CATALOGUE}
    for name in names[:-1]:
        write(variants.get(name, Variant(name, raw=b"{}")), tmp_path / "in")
    with open(tmp_path / "in" / "too_large.ipynb", "wb") as sparse:  # 30 MB, taking no disk
        sparse.truncate(30 * 10**6)
    submissions = find_submissions([tmp_path / "in" / variants.get(name, Variant(name)).file() for name in names])
    results = cluster.grade_batch(
        client, submissions, tmp_path / "out", GradingOptions("smoke", sandbox="off"), task=flaky_task
    )
    rows = read_rows(tmp_path / "out")
    assert list(rows) == names and [result.student for result in results] == names
    assert rows["not_a_notebook"]["status"] == "not a notebook" and rows["empty_file"]["status"] == "empty file"
    assert rows["too_large"]["status"] == "too large: 30 MB, the limit is 20 MB"  # never sent to a worker
    assert rows["task_raises"]["status"] == "grading error on the cluster: ValueError: the task failed on purpose"
    assert rows["worker_dies"]["status"].startswith("grading error on the cluster: KilledWorker")
    assert rows["other_commit"]["status"].startswith(
        "grading error on the cluster: RuntimeError: this worker's clone has other assignment notebooks"
    )
    for name in names:
        assert rows[name]["total"] == "0" and rows[name]["max_total"] == "100" and rows[name]["mode"] == "smoke"
        assert (tmp_path / "out" / "feedback" / f"{name}.html").is_file()
    assert "grading error on the cluster" in (tmp_path / "out" / "feedback" / "task_raises.html").read_text()
    said = []  # again: the grader's own errors are graded again, not kept
    again = cluster.grade_batch(
        client, submissions, tmp_path / "out", GradingOptions("smoke", sandbox="off"), task=flaky_task, log=said.append
    )
    assert (
        said[0] == "3 of 6 submission(s) to grade (3 new); 3 kept result(s) reused (the same file, release, "
        "grader's code, policy, mode, data and settings)"
    )
    assert [result.status.split(":")[0] for result in again] == [rows[name]["status"].split(":")[0] for name in names]
    assert {name: read_rows(tmp_path / "out")[name] for name in ("not_a_notebook", "empty_file", "too_large")} == {
        name: rows[name] for name in ("not_a_notebook", "empty_file", "too_large")
    }


def test_a_local_cluster_leaves_the_thread_settings_of_this_process_alone(client):
    """Dask's nannies write their workers' settings (OMP_NUM_THREADS=1, ...) into the parent's environment, also
    when they restart a worker (as in the test above); every later kernel would then train on one thread."""
    names = dask.config.get("distributed.nanny.pre-spawn-environ")  # Dask's defaults, not the local's
    assert {"OMP_NUM_THREADS", "MALLOC_TRIM_THRESHOLD_"} <= set(names)
    changed = {
        name: (ENVIRONMENT_BEFORE_CLUSTER.get(name), os.environ.get(name))
        for name in names
        if ENVIRONMENT_BEFORE_CLUSTER.get(name) != os.environ.get(name)
    }
    assert changed == {}, f"variables changed by the local cluster (before, after): {changed}"


def test_modes_the_workers_cannot_run_are_usage_errors(client):
    assert cluster.cluster_mode("auto", client) == "quick"  # no worker offers a GPU
    assert cluster.cluster_mode("smoke", client) == "smoke"
    with pytest.raises(UsageError, match="--resources GPU=1"):
        cluster.cluster_mode("full", client)


def test_a_scheduler_without_workers_is_a_usage_error(monkeypatch):
    from distributed import LocalCluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", "1s")
    with LocalCluster(n_workers=0, dashboard_address=":0") as empty, cluster.connect(empty.scheduler_address) as client:
        with pytest.raises(UsageError, match="no Dask worker has joined"):
            cluster.cluster_mode("smoke", client)


def test_unreachable_scheduler_exits_2_with_a_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", "2s")
    write(Variant("empty_file", raw=b""), tmp_path)
    with socket.socket() as closed:  # a port chosen free and held, where nothing listens
        closed.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{closed.getsockname()[1]}"
        code = main(["grade", str(tmp_path), "--out", str(tmp_path / "out"), "--cluster", address])
    assert code == 2
    assert f"cannot reach the Dask scheduler at {address}" in capsys.readouterr().err
    assert not (tmp_path / "out" / "grades.csv").exists()
