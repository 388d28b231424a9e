"""Each graded submission's result, kept in the output folder the moment it is graded, with the key it was graded
under: what lets a later run reuse it, and an interrupted one resume.

    OUT/results/<student>.json     {"format": 1, "student": ..., "key": {...}, "graded_at": ..., "result": {...}}
    OUT/feedback/<student>.html    its feedback page, written (atomically) before the record

A record is written atomically after its feedback page, so a record on disk always has its page. The key is a
dict of named digests (``autograder.grading.batch.grading_key``: the submission's bytes, the release, the
grader's code, the policy, the mode, the data and the settings); a record is reused only when every entry matches.
``grades.csv``, ``mistakes.csv`` and ``summary.html`` are rebuilt from the records (``report.write_batch``).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import pathlib

from autograder.reports.report import write_atomically
from autograder.reports.result import Result

FOLDER = "results"
FORMAT = 1


@dataclasses.dataclass
class Record:
    """A kept result: the Result, the key it was graded under and when it was graded (UTC, ISO 8601)."""

    result: Result
    key: dict
    graded_at: str


def folder(out: pathlib.Path) -> pathlib.Path:
    return pathlib.Path(out) / FOLDER


def path_of(out: pathlib.Path, student: str) -> pathlib.Path:
    return folder(out) / f"{student}.json"


def keep(out: pathlib.Path, result: Result, key: dict) -> Record:
    """Write `result`'s record under `key` atomically (its feedback page must already be in OUT/feedback/)."""
    data = result.to_dict()
    if result.feedback is not None:  # relative where it can be: the output folder may move
        page = pathlib.Path(result.feedback).resolve()
        if page.is_relative_to(pathlib.Path(out).resolve()):
            data["feedback"] = str(page.relative_to(pathlib.Path(out).resolve()))
    graded_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    record = {"format": FORMAT, "student": result.student, "key": key, "graded_at": graded_at, "result": data}
    folder(out).mkdir(parents=True, exist_ok=True)
    write_atomically(path_of(out, result.student), json.dumps(record, indent=1, sort_keys=True) + "\n")
    return Record(result, key, graded_at)


def load(out: pathlib.Path) -> dict[str, Record]:
    """{student: Record} of every readable record in `out`; a record that cannot be read (another format, a file
    edited by hand) is left out, so that its submission is graded again, and one whose feedback page is gone too."""
    records = {}
    for path in sorted(folder(out).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                continue
            result = Result.from_dict(data["result"])
            if result.feedback is not None:
                result.feedback = pathlib.Path(out) / result.feedback
                if not result.feedback.is_file():
                    continue
            records[data["student"]] = Record(result, data["key"], data["graded_at"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return records


def differences(kept: dict, wanted: dict) -> list[str]:
    """The names of the key's entries that differ between a kept record's key and the one wanted, in order."""
    return [name for name in wanted if kept.get(name) != wanted[name]] + [name for name in kept if name not in wanted]


def remove_partials(out: pathlib.Path) -> list[pathlib.Path]:
    """Remove the partial files a run killed mid-write left (``.NAME.*.partial``, see ``write_atomically``) in
    `out`, its records and its feedback pages; returns them. Run only while holding the output folder's lock."""
    out = pathlib.Path(out)
    found = [
        path for place in (out, folder(out), out / "feedback") for path in place.glob(".*.partial") if path.is_file()
    ]
    for path in found:
        path.unlink(missing_ok=True)
    return found
