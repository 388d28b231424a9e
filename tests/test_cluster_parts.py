"""The cluster grader's pieces, without a cluster (the end-to-end runs are in test_cluster.py, marked slow)."""

from autograder import assignment
from autograder.grading import cluster
from autograder.grading.options import GradingOptions
from autograder.reports.result import Result


class Finished:
    """A stand-in for a Dask future that is done: its result, or the error it raised."""

    def __init__(self, value=None, error=None):
        self.value, self.error = value, error

    def result(self):
        if self.error:
            raise self.error
        return self.value


def test_a_task_that_raised_becomes_an_error_row_with_its_feedback_page(tmp_path):
    failed = ValueError("the task failed\non purpose")
    failed.__cause__ = ImportError("no module named autograder")
    result = cluster._result(Finished(error=failed), "ann", "quick", assignment.points(), tmp_path)
    assert result.status == (
        "grading error on the cluster: ValueError: the task failed on purpose "
        "(caused by ImportError: no module named autograder)"
    )
    assert result.total == 0 and result.max_total == 100
    assert "grading error on the cluster" in (tmp_path / "feedback" / "ann.html").read_text()


def test_a_finished_task_gives_its_result_and_page(tmp_path):
    graded = Result("bob", {"test_crop_shape": 4.0}, {"test_crop_shape": 4.0}, "quick", "ok", host="worker-1")
    result = cluster._result(Finished(value=(graded, b"<html>the page</html>")), "bob", "quick", {}, tmp_path)
    assert result is graded and (tmp_path / "feedback" / "bob.html").read_bytes() == b"<html>the page</html>"
    assert result.line() == "bob: 4/4 (ok) in 0.0 s on worker-1"


def test_settings_say_how_many_tasks_share_each_machine():
    settings = cluster.Settings(GradingOptions("quick", 120, "auto"), cluster.assignment_digest(), (("a", 2), ("b", 4)))
    assert settings.tasks_on("b", 1) == 4 and settings.tasks_on("c", 3) == 3
    assert len(cluster.assignment_digest()) == 16 and hash(settings)  # a dict key in each worker
