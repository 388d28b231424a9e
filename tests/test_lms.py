"""LMS downloads in, LMS imports out (autograder/integrations/lms.py): student ids from Canvas's and Moodle's bulk
download names (files named as each LMS names them), zips as they are (and one that climbs out of its folder),
the newest of one student's files, and the import CSVs. The last test grades such a download end to end."""

import contextlib
import csv
import os
import pathlib
import subprocess
import sys
import zipfile

import pytest

from autograder.grading.submissions import UsageError
from autograder.integrations import lms

CANVAS_FILES = {
    "smithjane_12345_67890_UNet_Assignment.ipynb": ("canvas", "smithjane_12345", False, 0),
    "smithjane_12345_67891_UNet_Assignment-1.ipynb": ("canvas", "smithjane_12345", False, 1),
    "doejohn_LATE_23456_78901_Copy_of_UNet_Assignment.ipynb": ("canvas", "doejohn_23456", True, 0),
}
MOODLE_FILES = {
    "Jane Smith_4242_assignsubmission_file_/UNet_Assignment.ipynb": ("moodle", "Jane Smith_4242", False, 0),
    "Li Wei_4343_assignsubmission_file_UNet_Assignment.ipynb": ("moodle", "Li Wei_4343", False, 0),
}


@pytest.mark.parametrize("name", [*CANVAS_FILES, *MOODLE_FILES])
def test_lms_bulk_download_names_give_the_student(name):
    identity = lms.identify(pathlib.Path("download") / name)
    expected = {**CANVAS_FILES, **MOODLE_FILES}[name]
    assert (identity.lms, identity.student, identity.late, identity.attempt) == expected


@pytest.mark.parametrize(
    "name",
    [
        "alice.ipynb",
        "Copy of UNet_Assignment.ipynb",
        "bob_smith.ipynb",
        "submitted/carol/UNet_Assignment/UNet_Assignment.ipynb",
    ],
)
def test_other_names_are_read_as_before(name):
    assert lms.identify(pathlib.Path(name)) is None


def lay_out(folder, names, times=None):
    for index, name in enumerate(names):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
        stamp = (times or {}).get(name, 1_700_000_000 + index * 60)
        os.utime(path, (stamp, stamp))
    return folder


def collected(*paths):
    with contextlib.ExitStack() as scratch:
        submissions, notes = lms.collect(list(paths), scratch)
        return {submission.student: submission.path.name for submission in submissions}, notes


def test_files_not_named_by_an_lms_keep_their_ids_beside_lms_ones(tmp_path):
    names = ["alice.ipynb", "bob/Copy of UNet_Assignment.ipynb", "smithjane_12345_67890_UNet_Assignment.ipynb"]
    chosen, notes = collected(lay_out(tmp_path, names))
    assert (
        chosen
        == {
            "alice": "alice.ipynb",
            "bob": "Copy of UNet_Assignment.ipynb",
            "smithjane_12345": "smithjane_12345_67890_UNet_Assignment.ipynb",
        }
        and notes == []
    )


def test_the_newest_of_one_students_files_counts_and_the_rest_are_said(tmp_path):
    names = list(CANVAS_FILES) + list(MOODLE_FILES)
    times = {
        "smithjane_12345_67890_UNet_Assignment.ipynb": 1_700_000_500,  # the original, newer
        "smithjane_12345_67891_UNet_Assignment-1.ipynb": 1_700_000_100,
    }
    chosen, notes = collected(lay_out(tmp_path, names, times))
    assert chosen == {
        "smithjane_12345": "smithjane_12345_67890_UNet_Assignment.ipynb",
        "doejohn_23456": "doejohn_LATE_23456_78901_Copy_of_UNet_Assignment.ipynb",
        "Jane Smith_4242": "UNet_Assignment.ipynb",
        "Li Wei_4343": "Li Wei_4343_assignsubmission_file_UNet_Assignment.ipynb",
    }
    assert notes == [
        "smithjane_12345: graded smithjane_12345_67890_UNet_Assignment.ipynb, left out "
        "smithjane_12345_67891_UNet_Assignment-1.ipynb (an older file)"
    ]


def test_two_files_with_the_same_time_follow_the_stated_rule_whatever_the_order(tmp_path):
    names = [
        "smithjane_12345_67891_UNet_Assignment-1.ipynb",
        "smithjane_12345_67890_UNet_Assignment.ipynb",
        "smithjane_LATE_12345_67892_UNet_Assignment.ipynb",
    ]
    same = dict.fromkeys(names, 1_700_000_000)
    first = collected(*[lay_out(tmp_path / "a", [name], same) / name for name in names])
    second = collected(*[lay_out(tmp_path / "b", [name], same) / name for name in reversed(names)])
    assert first[0] == second[0] == {"smithjane_12345": "smithjane_LATE_12345_67892_UNet_Assignment.ipynb"}
    assert len(first[1]) == 2 and all(
        "the same time as the one graded" in note and lms.TIE_RULE in note for note in first[1]
    )


def make_zip(path, entries):
    """A zip as an LMS hands it out: {name: (text, (y, m, d, H, M, S))}."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, (text, when) in entries.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=when), text)
    return path


def test_a_zip_is_read_as_it_is_with_its_entries_times(tmp_path):
    archive = make_zip(
        tmp_path / "submissions.zip",
        {
            "smithjane_12345_67891_UNet_Assignment-1.ipynb": ("{}", (2026, 11, 30, 12, 0, 0)),  # the newer, by time
            "smithjane_12345_67890_UNet_Assignment.ipynb": ("{}", (2026, 11, 30, 9, 0, 0)),
            "Jane Smith_4242_assignsubmission_file_/UNet_Assignment.ipynb": ("{}", (2026, 11, 29, 9, 0, 0)),
        },
    )
    chosen, notes = collected(archive)
    assert chosen == {
        "smithjane_12345": "smithjane_12345_67891_UNet_Assignment-1.ipynb",
        "Jane Smith_4242": "UNet_Assignment.ipynb",
    }
    assert len(notes) == 1 and "left out smithjane_12345_67890_UNet_Assignment.ipynb" in notes[0]


@pytest.mark.parametrize("entry", ["../evil.ipynb", "folder/../../evil.ipynb", "/etc/evil.ipynb"])
def test_a_zip_entry_that_climbs_out_refuses_the_whole_zip(tmp_path, entry):
    archive = make_zip(
        tmp_path / "submissions.zip",
        {"alice.ipynb": ("{}", (2026, 1, 1, 0, 0, 0)), entry: ("{}", (2026, 1, 1, 0, 0, 0))},
    )
    folder = tmp_path / "unpacked" / "here"
    folder.mkdir(parents=True)
    with pytest.raises(UsageError, match="climbs out of its folder") as refused:
        lms.extract(archive, folder)
    assert repr(entry) in str(refused.value)
    assert list((tmp_path / "unpacked").rglob("*")) == [folder]  # nothing extracted, not even alice
    with pytest.raises(UsageError, match="nothing of it was extracted or graded"):
        collected(archive)


def test_a_zip_that_is_not_one_is_a_usage_error(tmp_path):
    (tmp_path / "submissions.zip").write_text("not a zip")
    with pytest.raises(UsageError, match="cannot read the zip"):
        collected(tmp_path / "submissions.zip")


def test_the_command_refuses_a_climbing_zip_before_grading(tmp_path):
    archive = make_zip(tmp_path / "submissions.zip", {"../evil.ipynb": ("{}", (2026, 1, 1, 0, 0, 0))})
    ran = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(archive), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 2 and "climbs out of its folder" in ran.stderr
    assert not (tmp_path / "out").exists()


GRADES = (
    "student,test_crop_shape,total,max_total,mode,status\n"
    "smithjane_12345,4,87.5,100,quick,ok\n"
    'Jane Smith_4242,0,40,100,quick,"ok; no sandbox (--sandbox off)"\n'
    "alice,4,100,100,quick,ok\n"
)


def test_canvas_import_csv(tmp_path):
    (tmp_path / "grades.csv").write_text(GRADES)
    said = []
    path = lms.export("canvas", tmp_path, log=said.append)
    rows = list(csv.reader(open(path, newline="")))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "UNet_Assignment"]
    assert rows[1] == ["    Points Possible", "", "", "", "", "100"]
    assert rows[2:] == [["smithjane", "12345", "", "", "", "87.5"], ["Jane Smith", "4242", "", "", "", "40"]]
    assert said == ["--export canvas: alice is not an LMS id (name_number), so it is not in the file"]
    assert [entry.name for entry in tmp_path.iterdir() if entry.name.endswith(".partial")] == []


def test_moodle_grading_worksheet_csv(tmp_path):
    (tmp_path / "grades.csv").write_text(GRADES)
    rows = list(csv.DictReader(open(lms.export("moodle", tmp_path, log=lambda _: None), newline="")))
    assert [(row["Identifier"], row["Full name"], row["Grade"], row["Maximum Grade"]) for row in rows] == [
        ("Participant 12345", "smithjane", "87.5", "100"),
        ("Participant 4242", "Jane Smith", "40", "100"),
    ]
    assert rows[1]["Feedback comments"] == "40/100 (quick mode): ok; no sandbox (--sandbox off)"


@pytest.mark.slow
def test_an_lms_download_graded_end_to_end(tmp_path, data_env):
    from autograder import assignment
    from tests import recipes
    from tests.catalogue import expected_scores, named, write

    correct, broken = named("reference"), named("avgpool+nearest_upsample")
    staging = tmp_path / "staging"
    write(correct, staging)
    write(broken, staging)
    good, bad = (staging / correct.file()).read_text(), (staging / broken.file()).read_text()
    archive = make_zip(
        tmp_path / "canvas.zip",
        {
            "smithjane_12345_67890_UNet_Assignment.ipynb": (bad, (2026, 11, 30, 9, 0, 0)),
            "smithjane_12345_67891_UNet_Assignment-1.ipynb": (good, (2026, 11, 30, 11, 0, 0)),
            "doejohn_LATE_23456_78901_UNet_Assignment.ipynb": (bad, (2026, 12, 1, 9, 0, 0)),
        },
    )
    moodle = tmp_path / "moodle"
    (moodle / "Li Wei_4343_assignsubmission_file_").mkdir(parents=True)
    (moodle / "Li Wei_4343_assignsubmission_file_" / "UNet_Assignment.ipynb").write_text(good)
    out = tmp_path / "grades"  # the recipe of docs/platforms.md as written, on both downloads
    ran = recipes.run(
        recipes.recipe("lms"),
        tmp_path / "home",
        cwd=tmp_path,
        env=data_env,
        substitutions={"submissions.zip": f"{archive} {moodle}"},
        appended={"unet-course grade": "--mode smoke --sandbox off --workers 2"},
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert recipes.warnings_in(ran) == []
    totals = {row["student"]: float(row["total"]) for row in csv.DictReader(open(out / "grades.csv"))}
    points = assignment.points()
    assert totals == {
        "smithjane_12345": 100,
        "doejohn_23456": sum(expected_scores(broken, points).values()),
        "Li Wei_4343": 100,
    }
    assert "left out smithjane_12345_67890_UNet_Assignment.ipynb (an older file)" in (out / "left_out.csv").read_text()
    canvas = list(csv.DictReader(open(out / "grades-canvas.csv")))[1:]
    assert {f"{row['Student']}_{row['ID']}": float(row["UNet_Assignment"]) for row in canvas} == totals
    moodle_rows = list(csv.DictReader(open(out / "grades-moodle.csv")))
    assert {row["Identifier"]: float(row["Grade"]) for row in moodle_rows}["Participant 4343"] == 100
    assert (out / "feedback" / "smithjane_12345.html").exists()
