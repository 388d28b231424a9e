"""One submission's result: the one type every grading path returns, and the one place a row's status is made.

The grading worker writes it as ``result.json`` in its course folder; the local grader reads it back, a Dask
task returns it to the client, and ``report`` turns it into a row of ``grades.csv``.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib


def number(value: float) -> int | float:
    """Scores as the CSV shows them: 5 rather than 5.0, 2.5 as it is."""
    return int(value) if float(value).is_integer() else round(float(value), 4)


def status(
    problem: str | None = None, needs_manual: list[str] = (), sandbox_reason: str | None = None, held: str = ""
) -> str:
    """A row's status: "ok", or the first thing that went wrong; then, for a kernel run without the sandbox,
    why not ("; no sandbox (why)"), or for a sandboxed one `held`: the disk quota if it was reached and which
    limits held ("; disk quota ... ; cgroup ..."). `sandbox_reason` is "" for a sandboxed kernel and None when
    no kernel ran."""
    text = problem or (f"not graded: {', '.join(needs_manual)}" if needs_manual else "ok")
    if sandbox_reason:  # never silently open: the row says it
        text += f"; no sandbox ({sandbox_reason})"
    return text + held


@dataclasses.dataclass
class Result:
    student: str
    scores: dict[str, float]  # grade_id -> points earned
    max_scores: dict[str, float]  # grade_id -> points possible
    mode: str
    status: str
    seconds: float = 0.0
    sandbox: str = ""  # "in a sandbox" or "WITHOUT a sandbox (why)"; "" when no kernel ran
    host: str = ""  # where it was graded (a cluster worker), "" on this machine
    feedback: pathlib.Path | None = None  # the feedback page
    timings: dict[str, float] = dataclasses.field(default_factory=dict)  # seconds per grading stage
    mistakes: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)  # (test, mistake, kind)

    @property
    def total(self) -> float:
        return sum(self.scores.values())

    @property
    def max_total(self) -> float:
        return sum(self.max_scores.values())

    def row(self, test_ids: list[str]) -> dict:
        """The result as a row of grades.csv."""
        row = {
            "student": self.student,
            "total": number(self.total),
            "max_total": number(self.max_total),
            "mode": self.mode,
            "status": self.status,
        }
        row.update({test_id: number(self.scores.get(test_id, 0)) for test_id in test_ids})
        return row

    def line(self) -> str:
        """One line for the grader's log."""
        where = (f" on {self.host}" + (f", {self.sandbox}" if self.sandbox else "")) if self.host else ""
        return (
            f"{self.student}: {number(self.total)}/{number(self.max_total)} ({self.status}) "
            f"in {self.seconds:.1f} s{where}"
        )

    def to_dict(self) -> dict:
        """The result as JSON-ready data (the feedback page's path as text)."""
        data = dataclasses.asdict(self)
        data["feedback"] = str(self.feedback) if self.feedback else None
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Result:
        data = dict(data)
        data["feedback"] = pathlib.Path(data["feedback"]) if data.get("feedback") else None
        data["mistakes"] = [tuple((*found, "named")[:3]) for found in data.get("mistakes", [])]
        return cls(**data)

    def write(self, path: pathlib.Path) -> None:
        pathlib.Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def read(cls, path: pathlib.Path) -> Result:
        return cls.from_dict(json.loads(pathlib.Path(path).read_text()))
