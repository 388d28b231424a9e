"""The grader end to end: the whole catalogue (tests/catalogue.py) through `python -m autograder grade`.

Two batches, each graded once per test session by the command line itself:
* every catalogue submission in smoke mode (the cheap training setting; the training test checks only that
  training ran), with --workers 2, a 30 s cell limit (the memory bomb needs some 12 s to fill 4 GiB) and each
  kernel in the sandbox (autograder/sandbox.py), while a network canary listens;
* a few complete submissions in quick mode, the mode graders use without a GPU, training check included,
  without the sandbox (as full mode runs on a GPU machine).
Together they take about 4-5 minutes of the suite on 2 cores.
"""
import csv
import hashlib
import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import threading

import nbformat
import pytest

from autograder import assignment, checks
from autograder.course import SOURCE_NOTEBOOK
from tests.catalogue import CANARY_PORT, CATALOGUE, QUICK, TRAINING, build, expected_scores, write

POINTS = assignment.points()
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
CHECKS_SOURCE = pathlib.Path(checks.__file__).read_text()


def grade(folder, out, env, *options):
    command = [sys.executable, "-m", "autograder", "grade", str(folder), "--out", str(out), *options]
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env}, timeout=900)


def read_rows(out):
    with open(out / "grades.csv", newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def digests(folder):
    return {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.rglob("*")) if path.is_file()}


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smoke(data_env, tmp_path_factory, sandbox_here):
    folder, out = tmp_path_factory.mktemp("submissions"), tmp_path_factory.mktemp("graded") / "out"
    students = {variant.name: write(variant, folder) for variant in CATALOGUE}
    submitted = {students[variant.name]: _sources(build(variant)) for variant in CATALOGUE}
    before = digests(folder)
    with Canary(CANARY_PORT) as canary:
        result = grade(folder, out, data_env, "--workers", "2", "--mode", "smoke", "--timeout", "30", "--sandbox", "on")
    print(result.stdout[-3000:], result.stderr[-3000:])
    return {"result": result, "rows": read_rows(out), "students": students, "out": out, "submitted": submitted,
            "unchanged": digests(folder) == before, "canary": canary.received}


class Canary:
    """A TCP listener on the grader's machine that records every connection and byte it receives."""

    def __init__(self, port):
        self.server = socket.create_server(("127.0.0.1", port))
        self.server.settimeout(0.5)
        self.received, self.running = [], True
        self.thread = threading.Thread(target=self._listen, daemon=True)

    def _listen(self):
        while self.running:
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(2)
                try:
                    self.received.append(connection.recv(1024) or b"(a connection)")
                except OSError:
                    self.received.append(b"(a connection)")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.server.close()


@pytest.fixture(scope="module")
def quick(data_env, tmp_path_factory):
    folder, out = tmp_path_factory.mktemp("quick-submissions"), tmp_path_factory.mktemp("quick-graded") / "out"
    students = {variant.name: write(variant, folder) for variant in QUICK}
    result = grade(folder, out, data_env, "--workers", "2", "--mode", "quick", "--sandbox", "off")
    print(result.stdout[-3000:], result.stderr[-3000:])
    return {"result": result, "rows": read_rows(out), "students": students, "out": out}


def check_row(row, variant):
    scores = {test: float(row[test]) for test in POINTS}
    assert scores == {test: float(points) for test, points in expected_scores(variant, POINTS).items()}, \
        f"{variant.name}: status {row['status']!r}"
    assert float(row["total"]) == sum(scores.values()) and float(row["max_total"]) == sum(POINTS.values()) == 100
    assert row["status"].startswith(variant.status), f"{variant.name}: status {row['status']!r}, expected {variant.status!r}"


def test_batch_finishes_with_exit_code_0_and_one_row_per_submission(smoke):
    assert smoke["result"].returncode == 0, smoke["result"].stderr
    assert sorted(smoke["rows"]) == sorted(smoke["students"].values())
    header = next(csv.reader(open(smoke["out"] / "grades.csv")))
    assert header == ["student", *POINTS, "total", "max_total", "mode", "status"]
    assert {row["mode"] for row in smoke["rows"].values()} == {"smoke"}


@pytest.mark.parametrize("variant", CATALOGUE, ids=lambda variant: variant.name)
def test_catalogue_submission_gets_its_expected_scores(smoke, variant):
    check_row(smoke["rows"][smoke["students"][variant.name]], variant)


def test_submissions_are_never_modified(smoke):
    assert smoke["unchanged"]


def test_every_submission_has_feedback_with_mode_status_and_no_hidden_test(smoke):
    source = nbformat.read(SOURCE_NOTEBOOK, as_version=4)
    hidden = {line.strip() for body in [CHECKS_SOURCE, *(body for cell in source.cells for body in HIDDEN.findall(cell.source))]
              for line in body.splitlines() if len(line.strip()) >= 15}
    public = "\n".join(HIDDEN.sub("", cell.source) for cell in source.cells)
    hidden = {line for line in hidden if line not in public}
    assert len(hidden) > 60
    for student in smoke["students"].values():
        page = (smoke["out"] / "feedback" / f"{student}.html").read_text()
        text = _text(page)
        leaked = [line for line in hidden if line in text and line not in smoke["submitted"][student]]
        assert leaked == [], f"{student}'s feedback shows hidden test code: {leaked[:3]}"
        assert "BEGIN HIDDEN TESTS" not in text
        row = smoke["rows"][student]
        if row["status"] in ("invalid JSON", "empty file", "not a notebook"):
            assert row["status"] in text
        else:
            assert "Grading report: smoke mode" in text and f"Status: {row['status']}" in text
            assert "Your code ran in a sandbox" in text


def test_failing_hidden_assert_shows_its_message_not_its_code(smoke):
    text = _text((smoke["out"] / "feedback" / f"{smoke['students']['padding_1+swapped_concat+edited_tests+tags_skip_execution']}.html").read_text())
    assert "forward should compute relu(conv3(relu(conv2(cat([conv1(upsample(x)), crop(skip)], 1)))))" in text
    assert "the hidden tests failed" in text
    assert 'seeded(block, conv_names("conv1", "conv2", "conv3"), 7)' not in text


def test_feedback_says_what_was_repaired(smoke):
    text = _text((smoke["out"] / "feedback" / f"{smoke['students']['extra_relu_expanding+square_only_crop+deleted_tests+stripped_metadata']}.html").read_text())
    assert "the test cell test_crop_centre was missing; it was restored and run" in text
    text = _text((smoke["out"] / "feedback" / f"{smoke['students']['missing_relu+align_corners_false+retyped_tests']}.html").read_text())
    assert "the test cell test_contracting_block_forward had been changed to markdown" in text


def test_huge_output_is_capped(smoke):
    page = smoke["out"] / "feedback" / f"{smoke['students']['stderr_warnings+huge_output']}.html"
    assert page.stat().st_size < 8_000_000
    assert "output truncated by the grader" in _text(page.read_text())


def test_network_memory_and_process_attacks_meet_the_sandboxs_walls(smoke):
    """The attacks ran and were stopped by the sandbox (no network, 4 GiB of memory, 64 processes), not by chance."""
    assert smoke["canary"] == [], "the canary on the grader's machine received something"
    text = _text((smoke["out"] / "feedback" / f"{smoke['students']['attack_network+memory_bomb+fork']}.html").read_text())
    assert "no network:" in text
    assert 1 <= float(re.search(r"stopped at ([\d.]+) GiB", text).group(1)) <= 4
    assert int(re.search(r"stopped at (\d+) processes", text).group(1)) < 64


TRICKS = ("attack_swallowed_errors", "attack_hidden_tracebacks+input_transformer", "attack_patched_comparisons",
          "attack_fake_shape_and_tensor_subclass")


@pytest.mark.parametrize("name", TRICKS)
def test_every_test_an_attack_fails_is_failed_by_the_graders_own_check(smoke, name):
    """Tricks on the notebook's asserts: every test they lose, the grader's check outside the kernel failed."""
    row = smoke["rows"][smoke["students"][name]]
    lost = [test for test in POINTS if float(row[test]) == 0]
    text = _text((smoke["out"] / "feedback" / f"{smoke['students'][name]}.html").read_text())
    assert lost and text.count("the grader's own check of this part") == len(lost), lost


def test_quick_mode_grades_complete_submissions_with_the_training_check(quick):
    assert quick["result"].returncode == 0, quick["result"].stderr
    for variant in QUICK:
        row = quick["rows"][quick["students"][variant.name]]
        assert row["mode"] == "quick"
        assert row["status"].endswith("; no sandbox (--sandbox off)"), "a row graded without the sandbox must say so"
        check_row(row, variant)


def test_the_same_submission_gets_the_same_row_and_the_same_training_numbers(smoke):
    rows = [dict(smoke["rows"][smoke["students"][name]]) for name in ("reference", "reference_again")]
    for row in rows:
        row.pop("student")
    assert rows[0] == rows[1]
    printed = [re.findall(r"mean training loss: .*|held-out V_rand .*", _text(
        (smoke["out"] / "feedback" / f"{smoke['students'][name]}.html").read_text()))
        for name in ("reference", "reference_again")]
    assert printed[0] and printed[0] == printed[1]


def test_quick_mode_feedback_reports_the_training_run(quick):
    text = _text((quick["out"] / "feedback" / f"{quick['students']['attack_fake_training']}.html").read_text())
    assert "Grading report: quick mode" in text and "Your code ran without a sandbox" in text
    assert re.search(r"held-out V_rand \d\.\d{4}", text) and "mean training loss: first epoch" in text
    assert TRAINING in text


def _sources(content):
    """The text of a submitted file's cells (or the raw text of a file that is not a notebook)."""
    try:
        return "\n".join("".join(cell["source"]) for cell in json.loads(content)["cells"])
    except (ValueError, KeyError, TypeError):
        return content.decode(errors="replace")


def _text(page):
    import html
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.mark.parametrize("variant", [variant for variant in CATALOGUE if variant.mistakes], ids=lambda variant: variant.name)
def test_every_bug_has_its_mistake_named_in_its_report_and_the_class_files(smoke, variant):
    student = smoke["students"][variant.name]
    text = _text((smoke["out"] / "feedback" / f"{student}.html").read_text())
    for mistake in variant.mistakes:
        assert f"{mistake} (the specification asks for" in text, mistake
    with open(smoke["out"] / "mistakes.csv", newline="") as handle:
        named = {row["mistake"] for row in csv.DictReader(handle) if row["student"] == student}
    assert set(variant.mistakes) <= named
    assert f"<th>{student}</th>" in (smoke["out"] / "summary.html").read_text()


def test_no_correct_submission_gets_a_diagnosis_and_complete_reports_are_small(smoke, quick):
    for variant in CATALOGUE:
        if not variant.fails and variant.raw is None:
            page = smoke["out"] / "feedback" / f"{smoke['students'][variant.name]}.html"
            assert "known mistake" not in _text(page.read_text()), variant.name
    for variant in QUICK:
        page = quick["out"] / "feedback" / f"{quick['students'][variant.name]}.html"
        assert page.stat().st_size <= 500_000, f"{variant.name}: {page.stat().st_size:,} bytes"
        text = _text(page.read_text())
        assert "The training run" in text and text.count("The course's own code, as released, runs here") == 4


def test_a_report_and_the_summary_read_right_in_a_browser(smoke):
    """Rendered by headless Chromium: the report's table and the summary's text are on the page, no hidden test is."""
    from tests.browser import rendered_text, require_chromium
    require_chromium()
    student = smoke["students"]["avgpool+nearest_upsample+tags_raises_exception+duplicated_tests"]
    text = _text(rendered_text(smoke["out"] / "feedback" / f"{student}.html"))
    assert "Part: ContractingBlock(input_channels)" in text and "test_contracting_block_forward : failed" in " ".join(text.split())
    assert "average pooling (the specification asks for nn.MaxPool2d(kernel_size=2, stride=2))" in " ".join(text.split())
    hidden = [line.strip() for line in CHECKS_SOURCE.splitlines() if len(line.strip()) >= 15]
    assert [line for line in hidden if line in text and line not in smoke["submitted"][student]] == []
    summary = " ".join(_text(rendered_text(smoke["out"] / "summary.html")).split())
    assert "Class summary" in summary and "ExpandingBlock: nearest-neighbour upsampling:" in summary
