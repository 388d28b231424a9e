"""Every way in holds (autograder/grading/limits.py, submissions.py, integrations/lms_zip.py): hostile inputs,
generated small (tests/bombs.py), are each refused in seconds with a row that says why, in bounded memory
(the intake's peak resident memory is measured in a process of its own), and the other files beside them are
taken in as before. The end-to-end batch, graded, is in tests/test_leftovers.py.
"""

import contextlib
import os
import zipfile

import pytest

from autograder.grading import limits, normalise, submissions
from autograder.grading.limits import IntakeLimits
from autograder.integrations import gradescope, lms, lms_zip
from autograder.integrations.nbgrader_course import Course
from tests import bombs

NOTEBOOK = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
MEMORY = 1 * 10**9  # the grader's peak resident memory must stay under this
SECONDS = 30  # "in seconds", with room for a busy 2-core machine


def collected(paths, limits=limits.DEFAULT):
    """{student: why refused, or ''} and the notes, as the command line takes `paths` in."""
    with contextlib.ExitStack() as scratch:
        found, notes = lms.collect(paths, scratch, limits)
        return {item.student: item.refused for item in found}, notes


def within_bounds(run):
    assert run["peak_bytes"] < MEMORY, f"peak resident memory {run['peak_bytes'] / 1e6:.0f} MB"
    assert run["seconds"] < SECONDS, f"took {run['seconds']:.1f} s"
    print(f"peak resident memory {run['peak_bytes'] / 1e6:.0f} MB, {run['seconds']:.1f} s")


# ---- the done-when inputs, each in a process whose peak memory is measured ------------------------------------


def test_a_zip_with_a_10_gib_entry_is_refused_from_its_directory_and_the_others_taken_in(tmp_path):
    archive = bombs.write_zip(
        tmp_path / "canvas.zip",
        [
            bombs.zeros("smithjane_12345_67890_UNet_Assignment.ipynb", 10 * bombs.GiB),
            bombs.Entry.stored("doejohn_23456_78901_UNet_Assignment.ipynb", NOTEBOOK),
            bombs.Entry.stored("Li Wei_4343_assignsubmission_file_/UNet_Assignment.ipynb", NOTEBOOK),
        ],
    )
    assert archive.stat().st_size < 12 * 10**6
    run = bombs.intake([archive], tmp_path / "report.json")
    assert dict(run["result"]["rows"]) == {
        "smithjane_12345": "too large: 10.0 GiB, the limit is 20 MB",
        "doejohn_23456": "",
        "Li Wei_4343": "",
    }
    within_bounds(run)


def test_a_500_mb_notebook_is_refused_unread_and_the_others_taken_in(tmp_path):
    bombs.sparse(tmp_path / "in" / "alice.ipynb", 500 * 10**6)
    (tmp_path / "in" / "bob.ipynb").write_bytes(NOTEBOOK)
    run = bombs.intake([tmp_path / "in"], tmp_path / "report.json")
    assert dict(run["result"]["rows"]) == {"alice": "too large: 500 MB, the limit is 20 MB", "bob": ""}
    within_bounds(run)
    with pytest.raises(normalise.InvalidSubmission, match=r"^too large: 500 MB, the limit is 20 MB$"):
        normalise.read_submission(tmp_path / "in" / "alice.ipynb")  # the reader is bounded as well


def test_a_zip_of_100000_empty_entries_is_refused_whole_and_the_other_paths_taken_in(tmp_path):
    archive = bombs.empty_entries(tmp_path / "many.zip", 100_000)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bob.ipynb").write_bytes(NOTEBOOK)
    run = bombs.intake([archive, tmp_path / "in"], tmp_path / "report.json")
    assert dict(run["result"]["rows"]) == {"many": "a zip of 100000 entries, the limit is 10000", "bob": ""}
    within_bounds(run)


def test_a_directory_that_understates_an_entrys_size_is_stopped_while_streaming(tmp_path):
    archive = bombs.write_zip(
        tmp_path / "lying.zip",
        [
            bombs.zeros("mallory.ipynb", 256 * bombs.MiB, declared=1000),  # says 1000 bytes, holds 256 MiB
            bombs.Entry.stored("bob.ipynb", NOTEBOOK),
        ],
    )
    run = bombs.intake([archive], tmp_path / "report.json")
    rows = dict(run["result"]["rows"])
    assert rows["bob"] == "" and rows["mallory"].startswith("a damaged zip entry (Bad CRC-32"), rows
    within_bounds(run)


def test_streaming_stops_at_the_limit_whatever_the_directory_says(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("a.ipynb", b"x" * 5000)
    with zipfile.ZipFile(archive) as bundle:
        with pytest.raises(limits.Refused, match="too large: 5 kB, the limit is 100 bytes"):
            lms_zip.stream(bundle, bundle.getinfo("a.ipynb"), tmp_path / "out.ipynb", 100)
    assert (tmp_path / "out.ipynb").stat().st_size == 0  # nothing past the limit was written


def test_a_zip_whose_end_record_understates_its_entries_is_still_counted(tmp_path):
    archive = bombs.empty_entries(tmp_path / "many.zip", 200)
    data = bytearray(archive.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = (5).to_bytes(2, "little") * 2  # the end record says 5 entries
    archive.write_bytes(bytes(data))
    with pytest.raises(lms_zip.ZipRefused, match="a zip of 200 entries, the limit is 100"):
        lms_zip.extract(archive, tmp_path / "out", IntakeLimits(zip_entries=100))


# ---- the rest of each door, in this process -----------------------------------------------------------------


def test_zip_entries_that_are_links_devices_archives_or_badly_named_get_their_rows(tmp_path):
    inner = bombs.write_zip(tmp_path / "inner.zip", [bombs.Entry.stored("x.ipynb", NOTEBOOK)]).read_bytes()
    archive = bombs.write_zip(
        tmp_path / "download.zip",
        [
            bombs.Entry.stored("alice.ipynb", NOTEBOOK),
            bombs.Entry.stored("smithjane_12345_67890_inner.zip", inner),
            bombs.Entry.stored("link.ipynb", b"/etc/passwd", mode=0o120777),
            bombs.Entry.stored("fifo.ipynb", b"", mode=0o010644),
            bombs.Entry.stored(b"caf\xe9.ipynb", NOTEBOOK, flags=0),  # Latin-1, not UTF-8
            bombs.Entry.stored("x" * 300 + ".ipynb", NOTEBOOK),
            bombs.Entry.stored("UNet_Assignment.ipynb", NOTEBOOK),  # at the top: no student
            bombs.Entry.stored("dup.ipynb", NOTEBOOK),
            bombs.Entry.stored("dup.ipynb", NOTEBOOK),
            bombs.Entry.stored("secret.ipynb", NOTEBOOK, flags=0x801),
            bombs.zeros("squeezed.ipynb", 5 * 10**6),
            bombs.Entry.stored("__MACOSX/._alice.ipynb", b"\0"),
            bombs.Entry.stored("notes.txt", b"hello"),
        ],
    )
    with contextlib.ExitStack() as scratch:
        found, _ = lms.collect([archive], scratch)
        folder = next(item.path for item in found if item.student == "alice").parent
        extracted = sorted(path.name for path in folder.rglob("*"))
    rows = {item.student: item.refused for item in found}
    assert extracted == ["UNet_Assignment.ipynb", "alice.ipynb", "dup.ipynb"], "only notebooks that pass are written"
    assert rows["alice"] == "" and rows["dup"] == ""
    assert rows["smithjane_12345"].startswith("an archive inside the submissions (smithjane_12345_67890_inner.zip)")
    assert rows["link"] == "not a regular file: a symbolic link"
    assert rows["fifo"] == "not a regular file: a FIFO (named pipe)"
    assert rows["caf\N{REPLACEMENT CHARACTER}"] == "a name that is not UTF-8: 'caf\N{REPLACEMENT CHARACTER}.ipynb'"
    assert rows["x" * 100] == "a name too long: 306 bytes, the limit is 255"
    assert rows["UNet_Assignment.ipynb"] == "a name that gives no student: 'UNet_Assignment.ipynb'"
    assert rows["dup [dup.ipynb]"] == "the zip holds this name twice"
    assert rows["secret"] == "an encrypted zip entry (a password is needed)"
    assert rows["squeezed"] == "compressed 1011:1 in the zip, the limit is 100:1 (5 MB from 4.95 kB: a zip bomb?)"
    assert len(rows) == 11, rows


def test_a_refused_zip_entry_keeps_its_student_and_its_time_for_the_newest_file_rule(tmp_path):
    older = bombs.Entry.stored("smithjane_12345_67890_UNet_Assignment.ipynb", NOTEBOOK)
    newer = bombs.zeros("smithjane_12345_67891_UNet_Assignment-1.ipynb", 30 * 10**6)
    older.time = (0, bombs.DOS_TIME[1] - 1)  # the day before
    archive = bombs.write_zip(tmp_path / "canvas.zip", [older])
    bombs.write_zip(tmp_path / "newer.zip", [newer])
    rows, notes = collected([archive, tmp_path / "newer.zip"])
    assert rows == {"smithjane_12345": "too large: 30 MB, the limit is 20 MB"}
    assert notes == [
        "smithjane_12345: graded smithjane_12345_67891_UNet_Assignment-1.ipynb, left out "
        "smithjane_12345_67890_UNet_Assignment.ipynb (an older file)"
    ]


def test_folder_entries_that_are_links_fifos_devices_archives_or_badly_named_get_their_rows(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "ivan.ipynb").write_bytes(NOTEBOOK)
    (folder / "eve.ipynb").symlink_to("/etc/passwd")
    (folder / "linked").symlink_to(tmp_path, target_is_directory=True)  # never walked into: a row
    os.mkfifo(folder / "frank.ipynb")
    (folder / "gina.zip").write_bytes(b"PK")
    with open(os.path.join(os.fsencode(folder), b"h\xffn.ipynb"), "wb") as handle:
        handle.write(NOTEBOOK)
    (folder / ("k" * 60 + ".ipynb")).write_bytes(NOTEBOOK)
    rows, _ = collected([folder], IntakeLimits(name_bytes=50))
    assert rows == {
        "eve": "not a regular file: a symbolic link",
        "frank": "not a regular file: a FIFO (named pipe)",
        "gina": "an archive inside the submissions (gina.zip): unzip it and give its notebooks",
        "h\N{REPLACEMENT CHARACTER}n": "a name that is not UTF-8: 'h\N{REPLACEMENT CHARACTER}n.ipynb'",
        "ivan": "",
        "k" * 60: "a name too long: 66 bytes, the limit is 50",
        "linked": "not a regular file: a symbolic link to a folder (linked), not followed",
    }
    with pytest.raises(normalise.InvalidSubmission, match="not a regular file: a FIFO"):
        normalise.read_submission(folder / "frank.ipynb")  # never waits for a writer
    with pytest.raises(normalise.InvalidSubmission, match="not a regular file: a symbolic link"):
        normalise.read_submission(folder / "eve.ipynb")


def test_a_device_is_refused(tmp_path):
    try:
        os.mknod(tmp_path / "zero.ipynb", 0o600 | 0o020000, os.makedev(1, 5))  # /dev/zero's numbers
    except PermissionError:
        pytest.skip("making a device node needs root")
    (tmp_path / "ok.ipynb").write_bytes(NOTEBOOK)
    assert collected([tmp_path])[0] == {"zero": "not a regular file: a character device", "ok": ""}
    with pytest.raises(normalise.InvalidSubmission, match="not a regular file: a character device"):
        normalise.read_submission(tmp_path / "zero.ipynb")


def test_a_folder_full_of_files_is_not_looked_into_and_the_others_are(tmp_path, monkeypatch):
    submitted = tmp_path / "course" / "submitted"
    for student, count in (("alice", 60), ("bob", 0)):
        folder = submitted / student / "UNet_Assignment"
        folder.mkdir(parents=True)
        (folder / "UNet_Assignment.ipynb").write_bytes(NOTEBOOK)
        for number in range(count):
            (folder / f"file_{number}.txt").write_text("x")
    small = IntakeLimits(folder_files=50)
    rows, _ = collected([submitted], small)
    assert rows == {"alice": "a folder of more than 50 files and folders, not looked into: UNet_Assignment", "bob": ""}
    course = Course(tmp_path / "course", limits=small)
    assert {item.student: item.refused for item in course.submissions()} == {
        "alice": "a submitted folder of more than 50 files, not looked into",
        "bob": "",
    }
    monkeypatch.setattr(submissions, "FOLDERS_FACTOR", 1)  # all folders together: at most 1 x the limit
    with pytest.raises(submissions.UsageError, match="holds more than 5 files and folders"):
        submissions.find_files([submitted], IntakeLimits(folder_files=4))


def test_an_nbgrader_course_refuses_linked_and_oversized_submissions(tmp_path):
    submitted = tmp_path / "course" / "submitted"
    for student in ("alice", "bob", "carol"):
        (submitted / student / "UNet_Assignment").mkdir(parents=True)
    (submitted / "alice" / "UNet_Assignment" / "UNet_Assignment.ipynb").write_bytes(NOTEBOOK)
    (submitted / "bob" / "UNet_Assignment" / "UNet_Assignment.ipynb").symlink_to("/etc/passwd")
    bombs.sparse(submitted / "carol" / "UNet_Assignment" / "UNet_Assignment.ipynb", 30 * 10**6)
    (submitted / "dave").symlink_to(submitted / "alice", target_is_directory=True)
    rows = {item.student: item.refused for item in Course(tmp_path / "course").submissions()}
    assert rows == {
        "alice": "",
        "bob": "not a regular file: a symbolic link",
        "carol": "too large: 30 MB, the limit is 20 MB",
        "dave": "not a regular file: a symbolic link: dave",
    }


def test_two_files_that_give_one_student_id_are_both_taken_in_and_said(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "alice.ipynb").write_bytes(NOTEBOOK)
    rows, notes = collected([tmp_path])
    assert rows == {"alice": "", "alice [alice.ipynb]": ""}
    assert notes == [
        f"alice: two files give this student id: {tmp_path}/a/alice.ipynb (graded as alice) and "
        f"{tmp_path}/b/alice.ipynb (graded as alice [alice.ipynb])"
    ]


def test_a_gradescope_submission_is_found_within_the_limits(tmp_path):
    (tmp_path / "submission" / "deep").mkdir(parents=True)
    (tmp_path / "submission" / "a.ipynb").write_bytes(NOTEBOOK)
    (tmp_path / "submission" / "deep" / "b.ipynb").symlink_to("/etc/passwd")
    found = gradescope.submitted_notebooks(tmp_path / "submission")
    assert [path.name for path in found] == ["a.ipynb", "b.ipynb"]  # the link is found: grading refuses it
    assert submissions.check_file(found[1]) == "not a regular file: a symbolic link"
    assert gradescope.submitted_notebooks(tmp_path / "nothing") == []


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"[" * 100_000, "invalid JSON"),  # nested past Python's stack
        (b'{"cells": [' + b"{}," * 10_000 + b"{}]}", "not a notebook: 10001 cells, the limit is 10000"),
        (
            b'{"cells": [' + b"[]," * 600_000 + b"[]]}",
            "not a notebook: 600003 JSON objects and lists (its { and [), the limit is 500000",
        ),
    ],
)
def test_a_notebook_that_would_take_the_reader_down_gets_a_reason(tmp_path, content, reason):
    """Each is refused before it is parsed whole: 20 MB of [],[],... would take 0.5 GB as Python objects."""
    (tmp_path / "x.ipynb").write_bytes(content)
    with pytest.raises(normalise.InvalidSubmission) as refused:
        normalise.read_submission(tmp_path / "x.ipynb")
    assert str(refused.value) == reason


def test_each_limit_is_an_option_of_grade_and_reaches_the_intake(tmp_path):
    import argparse

    from autograder.cli import GradeOptions
    from autograder.options import add_arguments, from_namespace

    parser = argparse.ArgumentParser()
    add_arguments(parser, GradeOptions)
    options = from_namespace(
        GradeOptions,
        parser.parse_args(
            [
                str(tmp_path),
                "--notebook-bytes",
                "1kB",
                "--zip-entries",
                "5",
                "--folder-files",
                "7",
                "--zip-bytes",
                "2GiB",
            ]
        ),
    )
    assert options.limits() == IntakeLimits(notebook_bytes=1000, zip_entries=5, folder_files=7)
    (tmp_path / "alice.ipynb").write_bytes(b" " * 1001)
    assert collected([tmp_path], options.limits())[0] == {"alice": "too large: 1001 bytes, the limit is 1000 bytes"}
    with pytest.raises(SystemExit):
        parser.parse_args([str(tmp_path), "--notebook-bytes", "lots"])


def test_sizes_are_said_in_words():
    assert limits.too_large(2 * 2**30, 20 * 10**6) == "too large: 2.0 GiB, the limit is 20 MB"
    assert [limits.size(count) for count in (12, 3500, 1_500_000)] == ["12 bytes", "3.5 kB", "1.5 MB"]
