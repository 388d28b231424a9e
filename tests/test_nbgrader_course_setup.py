"""`release --course`'s settings of an nbgrader course, without nbgrader's apps: the course id and the exchange said
and written once, a course's own settings kept, the exchange made as nbgrader asks, the students' settings file;
and the first record of a submission in a gradebook, which nbgrader's API made SQLAlchemy warn about."""

import os
import stat
import sys
import warnings

import pytest

from autograder.integrations import nbgrader_course, nbgrader_settings
from autograder.integrations.nbgrader_course import CourseError, configure, course_config


def test_a_new_course_gets_its_folders_name_as_course_id_and_the_exchange_said_and_made(tmp_path):
    root, exchange = tmp_path / "unet101", tmp_path / "exchange"
    said = configure(root, str(exchange))
    assert said[1] == f"the course id is 'unet101' and the exchange {exchange} ({root / 'nbgrader_config.py'})"
    config = course_config(root)
    assert (config.CourseDirectory.course_id, config.Exchange.root) == ("unet101", str(exchange))
    assert stat.S_IMODE(exchange.stat().st_mode) == 0o1777
    students = course_config(root / "for_students")
    assert (students.CourseDirectory.course_id, students.Exchange.root) == ("unet101", str(exchange))
    before = (root / "nbgrader_config.py").read_text()
    assert f"the exchange {exchange} is there" in configure(root, str(exchange))
    assert (root / "nbgrader_config.py").read_text() == before  # nothing added twice


def test_a_courses_own_settings_are_kept_and_only_a_new_exchange_is_added(tmp_path):
    root = tmp_path / "folder"
    root.mkdir()
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.course_id = 'bio-201'\nc.Exchange.root = {str(tmp_path / 'old')!r}\n"
    )
    assert "the course id is 'bio-201' and the exchange " + str(tmp_path / "old") in configure(root)[0]
    configure(root, str(tmp_path / "new"))
    config = course_config(root)
    assert (config.CourseDirectory.course_id, config.Exchange.root) == ("bio-201", str(tmp_path / "new"))
    assert (
        (root / "nbgrader_config.py")
        .read_text()
        .startswith("c = get_config()\nc.CourseDirectory.course_id = 'bio-201'")
    )


def test_an_exchange_that_cannot_be_made_stops_with_the_commands_to_run(tmp_path):
    (tmp_path / "a_file").write_text("")
    with pytest.raises(CourseError, match=r"sudo mkdir -p .*a_file/exchange && sudo chmod 1777"):
        configure(tmp_path / "course", str(tmp_path / "a_file" / "exchange"))


def test_without_exchange_the_course_says_nbgraders_own(tmp_path, monkeypatch):
    monkeypatch.setattr(nbgrader_settings, "make_exchange", lambda folder: f"(made {folder})")
    said = configure(tmp_path / "unet101")
    assert said[1].startswith("the course id is 'unet101' and the exchange /usr/local/share/nbgrader/exchange (")


def test_recording_a_first_submission_warns_of_nothing(tmp_path, monkeypatch):
    from nbgrader.api import Gradebook

    from autograder.release.course import ASSIGNMENT
    from autograder.reports.result import Result

    monkeypatch.setenv("PATH", os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]]))
    root = tmp_path / "course"
    (root / "submitted" / "ann" / "A1").mkdir(parents=True)
    (root / "nbgrader_config.py").write_text("c = get_config()\n")
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        gb.add_assignment("A1")
        gb.add_notebook(ASSIGNMENT, "A1")
        gb.add_grade_cell("test_crop_shape", ASSIGNMENT, "A1", max_score=4, cell_type="code")
    course = nbgrader_course.Course(root, "A1")
    course.stage = tmp_path / "stage"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        course._write_gradebook([Result("ann", {"test_crop_shape": 4.0}, {"test_crop_shape": 4.0}, "smoke", "ok")])
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        assert gb.find_submission("A1", "ann").score == 4
