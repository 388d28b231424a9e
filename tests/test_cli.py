"""The command line: each option declared once (a dataclass field), the parser, the grading job and nbgrader's
configuration derived from it; ``unet-course`` and ``python -m autograder`` are the same command."""

import argparse
import dataclasses
import subprocess
import sys

import pytest

from autograder import cli
from autograder.grading import worker
from autograder.grading.options import MODES, GradingOptions
from autograder.options import add_arguments, flag, from_namespace


def parse(options_class, argv):
    parser = argparse.ArgumentParser()
    add_arguments(parser, options_class)
    return from_namespace(options_class, parser.parse_args(argv))


def test_every_field_of_a_command_is_one_of_its_options():
    for name, command in cli.COMMANDS.items():
        parser = argparse.ArgumentParser()
        add_arguments(parser, command.options)
        known = {action.dest for action in parser._actions} - {"help"}
        on_command_line = {
            field.name for field in dataclasses.fields(command.options) if field.metadata["command_line"]
        }
        assert known == on_command_line, name
        assert "max_output_bytes" not in known  # travels with grade's options, but not on the command line
    assert "max_output_bytes" in cli.GradeOptions().grading().job()


def test_defaults_of_the_parser_are_the_dataclass_defaults():
    assert parse(cli.GradeOptions, []) == cli.GradeOptions()
    assert parse(cli.ReleaseOptions, []) == cli.ReleaseOptions()


def test_the_modes_are_the_graders_own():
    grade_mode = next(field for field in dataclasses.fields(GradingOptions) if field.name == "mode")
    assert grade_mode.metadata["choices"] == ("auto", *MODES)
    gradescope_mode = next(field for field in dataclasses.fields(cli.GradescopeOptions) if field.name == "mode")
    assert set(gradescope_mode.metadata["choices"]) == set(MODES) - {"full"}
    with pytest.raises(SystemExit):
        parse(cli.GradeOptions, ["--mode", "fast"])


def test_the_command_line_reaches_the_job_and_nbgrader_unchanged():
    options = parse(
        cli.GradeOptions,
        [
            "a.ipynb",
            "b",
            "--out",
            "o",
            "--timeout",
            "60",
            "--mode",
            "smoke",
            "--export",
            "canvas",
            "--export",
            "moodle",
            "--disk-quota",
            "0.5",
        ],
    )
    assert options.paths == ("a.ipynb", "b") and options.export == ("canvas", "moodle")
    assert options.disk_bytes == 2**29
    job = {"course": "/tmp/c", "options": options.grading().job(), "cell_timeouts": {}, "skip_tag": "t", "preamble": ""}
    assert GradingOptions(**job["options"]) == options.grading()
    assert set(job["options"]) == {field.name for field in dataclasses.fields(GradingOptions)}
    config = worker.nbgrader_config(job)
    assert config.GradingExecute.timeout == 60 and config.GradingExecute.grading_mode == "smoke"
    assert config.GradingExecute.max_output_bytes == GradingOptions().max_output_bytes


def test_bad_values_are_usage_errors(capsys):
    for argv in (["--timeout", "0"], ["--workers", "two"], ["--disk-quota", "0"]):
        with pytest.raises(SystemExit) as stopped:
            parse(cli.GradeOptions, argv)
        assert stopped.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err


def test_flags_are_named_after_their_fields():
    names = {flag(field) for field in dataclasses.fields(cli.GradescopeOptions)}
    assert names == {"--out", "--training-visibility", "--mode"}


def test_python_dash_m_autograder_is_the_same_command(tmp_path):
    run = subprocess.run([sys.executable, "-m", "autograder", "grade"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "unet-course: error: give the submissions (PATH...) or an nbgrader course" in run.stderr
