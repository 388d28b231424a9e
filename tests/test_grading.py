"""The grader end to end: the whole catalogue (tests/catalogue.py) through `python -m autograder grade`.

Two batches, each graded once per test session by the command line itself:
* every catalogue submission in smoke mode (the cheap training setting; the training test checks only that
  training ran), with --workers 2, a 30 s cell limit (the memory bomb needs some 12 s to fill 4 GiB) and each
  kernel in the sandbox (autograder/sandbox/kernel.py), while a network canary listens;
* a few complete submissions in quick mode, the mode graders use without a GPU, training check included,
  without the sandbox (as full mode runs on a GPU machine).
Together they take about 4-5 minutes of the suite on 2 cores.
"""

import ast
import csv
import hashlib
import json
import os
import pathlib
import re
import subprocess
import sys
import threading

import nbformat
import pytest

from autograder import assignment
from autograder.authoring import checks
from autograder.release.course import SOURCE_NOTEBOOK
from autograder.release.generate import inlined_module
from autograder.sandbox.kernel import Limits, cgroup_layout
from tests.catalogue import (
    CANARY,
    CATALOGUE,
    DAEMON_MARKER,
    QUICK,
    TRAINING,
    build,
    expected_scores,
    processes_named,
    write,
)

POINTS = assignment.points()
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
CHECKS_SOURCE = pathlib.Path(checks.__file__).read_text()


def check_code_lines():
    """The lines of the hidden checks' code (autograder/authoring/checks.py), without their docstrings: those say what
    the
    specification asks, and the feedback quotes them on purpose."""
    tree = ast.parse(CHECKS_SOURCE)
    said = {
        line.strip()
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef))
        for line in (ast.get_docstring(node, clean=False) or "").splitlines()
    }
    return {line.strip() for line in CHECKS_SOURCE.splitlines() if len(line.strip()) >= 15} - said


def grade(folder, out, env, *options):
    command = [sys.executable, "-m", "autograder", "grade", str(folder), "--out", str(out), *options]
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env}, timeout=900)


def read_rows(out):
    with open(out / "grades.csv", newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def digests(folder):
    return {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.rglob("*")) if path.is_file()}


pytestmark = pytest.mark.slow


def not_graded_here():
    """{variant name: why} for the catalogue's variants this machine's sandbox cannot grade safely."""
    layout, why_not = cgroup_layout(Limits())
    return (
        {}
        if layout
        else {
            variant.name: f"no cgroup here ({why_not}): rlimits alone would let it take the machine's memory"
            for variant in CATALOGUE
            if variant.needs == "cgroup"
        }
    )


@pytest.fixture(scope="module")
def smoke(data_env, tmp_path_factory, sandbox):  # graded with --sandbox on: skipped where it cannot run
    folder, out = tmp_path_factory.mktemp("submissions"), tmp_path_factory.mktemp("graded") / "out"
    work = tmp_path_factory.mktemp("grader-tmp")  # the grader's TMPDIR: its courses and scratch folders
    skipped = not_graded_here()
    batch = [variant for variant in CATALOGUE if variant.name not in skipped]
    students = {variant.name: write(variant, folder) for variant in batch}
    submitted = {students[variant.name]: _sources(build(variant)) for variant in batch}
    before = digests(folder)
    with Canary(CANARY) as canary:
        result = grade(
            folder,
            out,
            {**data_env, "TMPDIR": str(work)},
            "--workers",
            "2",
            "--mode",
            "smoke",
            "--timeout",
            "30",
            "--sandbox",
            "on",
        )
    print(result.stdout[-3000:], result.stderr[-3000:])
    return {
        "result": result,
        "rows": read_rows(out),
        "students": students,
        "out": out,
        "submitted": submitted,
        "unchanged": digests(folder) == before,
        "canary": canary.received,
        "skipped": skipped,
        "left": {
            "files": sorted(map(str, work.rglob("*"))),
            "mounts": mounts_under(work),
            "daemons": processes_named(DAEMON_MARKER + str(work)),
        },
    }


def mounts_under(folder):
    points = [line.split()[4] for line in open("/proc/self/mountinfo")]
    return [point for point in points if point.startswith(str(folder))]


class Canary:
    """A TCP listener on the grader's machine that records every connection and byte it receives."""

    def __init__(self, server):
        self.server = server  # bound to a port chosen free (tests/catalogue.py)
        self.server.listen()
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
    assert scores == {test: float(points) for test, points in expected_scores(variant, POINTS).items()}, (
        f"{variant.name}: status {row['status']!r}"
    )
    assert float(row["total"]) == sum(scores.values()) and float(row["max_total"]) == sum(POINTS.values()) == 100
    assert row["status"].startswith(variant.status), (
        f"{variant.name}: status {row['status']!r}, expected {variant.status!r}"
    )


def test_batch_finishes_with_exit_code_0_and_one_row_per_submission(smoke):
    assert smoke["result"].returncode == 0, smoke["result"].stderr
    assert sorted(smoke["rows"]) == sorted(smoke["students"].values())
    header = next(csv.reader(open(smoke["out"] / "grades.csv")))
    assert header == ["student", *POINTS, "total", "max_total", "mode", "status"]
    assert {row["mode"] for row in smoke["rows"].values()} == {"smoke"}


@pytest.mark.parametrize("variant", CATALOGUE, ids=lambda variant: variant.name)
def test_catalogue_submission_gets_its_expected_scores(smoke, variant):
    if variant.name in smoke["skipped"]:
        pytest.skip(f"{variant.name} not graded: {smoke['skipped'][variant.name]}")
    check_row(smoke["rows"][smoke["students"][variant.name]], variant)


def test_submissions_are_never_modified(smoke):
    assert smoke["unchanged"]


def test_every_submission_has_feedback_with_mode_status_and_no_hidden_test(smoke):
    source = nbformat.read(SOURCE_NOTEBOOK, as_version=4)
    hidden = check_code_lines() | {
        line.strip()
        for cell in source.cells
        for body in HIDDEN.findall(cell.source)
        for line in body.splitlines()
        if len(line.strip()) >= 15
    }
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
    text = _text(
        (
            smoke["out"]
            / "feedback"
            / f"{smoke['students']['padding_1+swapped_concat+edited_tests+tags_skip_execution']}.html"
        ).read_text()
    )
    assert "forward should compute relu(conv3(relu(conv2(cat([conv1(upsample(x)), crop(skip)], 1)))))" in text
    assert "the hidden tests failed" in text
    assert 'seeded(block, conv_names("conv1", "conv2", "conv3"), 7)' not in text


def test_feedback_says_what_was_repaired(smoke):
    text = _text(
        (
            smoke["out"]
            / "feedback"
            / f"{smoke['students']['extra_relu_expanding+square_only_crop+deleted_tests+stripped_metadata']}.html"
        ).read_text()
    )
    assert "the test cell test_crop_centre was missing; it was restored and run" in text
    text = _text(
        (
            smoke["out"] / "feedback" / f"{smoke['students']['missing_relu+align_corners_false+retyped_tests']}.html"
        ).read_text()
    )
    assert "the test cell test_contracting_block_forward had been changed to markdown" in text


def test_huge_output_is_capped(smoke):
    page = smoke["out"] / "feedback" / f"{smoke['students']['stderr_warnings+huge_output']}.html"
    assert page.stat().st_size < 8_000_000
    assert "output truncated by the grader" in _text(page.read_text())


def test_network_memory_and_process_attacks_meet_the_sandboxs_walls(smoke):
    """The attacks ran and were stopped by the sandbox (no network, 4 GiB of memory, 64 processes), not by chance."""
    assert smoke["canary"] == [], "the canary on the grader's machine received something"
    text = _text(
        (smoke["out"] / "feedback" / f"{smoke['students']['attack_network+memory_bomb+fork']}.html").read_text()
    )
    assert "no network:" in text
    assert 1 <= float(re.search(r"stopped at ([\d.]+) GiB", text).group(1)) <= 4
    assert int(re.search(r"stopped at (\d+) processes", text).group(1)) < 64


def test_start_up_line_and_every_row_say_which_limits_held(smoke):
    # The start-up line, wherever it falls: on the synthetic stand-in the data's loader speaks first.
    start_up = [line for line in smoke["result"].stdout.splitlines() if line.startswith("grading ")]
    assert len(start_up) == 1, smoke["result"].stdout[:2000]
    limits = re.search(r"each kernel in a (sandbox: .*)", start_up[0])
    assert limits, start_up[0]
    for row in smoke["rows"].values():
        if row["status"] not in ("invalid JSON", "empty file", "not a notebook"):
            assert row["status"].endswith(f"; {limits.group(1)}"), row["status"]


def test_disk_attacks_stop_at_the_quota(smoke):
    """1 GiB files stop at the 2 GiB quota, a million empty files at its 100000 inodes, with ENOSPC."""
    filler = _text((smoke["out"] / "feedback" / f"{smoke['students']['attack_disk_filler']}.html").read_text())
    assert "wrote 1 GiB" in filler and "wrote 2 GiB" not in filler and "[Errno 28] No space left on device" in filler
    files = _text((smoke["out"] / "feedback" / f"{smoke['students']['attack_million_files']}.html").read_text())
    assert 0 < int(re.search(r"made (\d+) files", files).group(1)) <= 100_000


def test_links_from_the_scratch_folder_are_never_written_through(smoke):
    attacker = smoke["students"]["attack_symlinks_to_grader_files"]
    text = _text((smoke["out"] / "feedback" / f"{attacker}.html").read_text())
    assert sorted(re.findall(r"blocked: ([\w.]+) \(", text)) == [
        "batch",
        "feedback",
        "gradebook.db",
        "grades.csv",
        "result.json",
    ]
    assert not re.search(r"wrote through [\w.]+", text)
    written = [
        path.name
        for path in smoke["out"].rglob("*")
        if path.is_file() and path.name != f"{attacker}.html" and b"pwned" in path.read_bytes()
    ]
    assert written == [] and sorted(smoke["rows"]) == sorted(smoke["students"].values())


def test_memory_mapped_past_the_limit_is_stopped_by_the_cgroup(smoke):
    if "attack_mapped_memory" in smoke["skipped"]:
        pytest.skip(smoke["skipped"]["attack_mapped_memory"])
    text = _text((smoke["out"] / "feedback" / f"{smoke['students']['attack_mapped_memory']}.html").read_text())
    mapped = [int(gib) for gib in re.findall(r"mapped (\d+) GiB", text)]
    limit = Limits().cgroup_memory_bytes() / 2**30
    assert mapped and max(mapped) < limit, f"mapped {max(mapped, default=0)} GiB past a {limit} GiB cgroup"


def test_nothing_of_a_sandbox_outlives_its_row(smoke):
    """No process (the double-forked daemon), no scratch mount, no course folder is left once graded."""
    assert smoke["left"] == {"files": [], "mounts": [], "daemons": []}
    text = _text((smoke["out"] / "feedback" / f"{smoke['students']['attack_daemon']}.html").read_text())
    assert "a daemon is running" in text, "the attack must have started its daemon for this test to mean anything"


TRICKS = (
    "attack_swallowed_errors",
    "attack_hidden_tracebacks+input_transformer",
    "attack_patched_comparisons",
    "attack_fake_shape_and_tensor_subclass",
)


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
    printed = [
        re.findall(
            r"mean training loss: .*|held-out V_rand .*",
            _text((smoke["out"] / "feedback" / f"{smoke['students'][name]}.html").read_text()),
        )
        for name in ("reference", "reference_again")
    ]
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


@pytest.mark.parametrize(
    "variant", [variant for variant in CATALOGUE if variant.mistakes], ids=lambda variant: variant.name
)
def test_every_bug_has_its_mistake_named_in_its_report_and_the_class_files(smoke, variant):
    student = smoke["students"][variant.name]
    text = _text((smoke["out"] / "feedback" / f"{student}.html").read_text())
    for mistake in variant.mistakes:
        assert f"{mistake} (the specification asks for" in text, mistake
    with open(smoke["out"] / "mistakes.csv", newline="") as handle:
        named = {row["mistake"] for row in csv.DictReader(handle) if row["student"] == student}
    assert set(variant.mistakes) <= named
    assert f"<th>{student}</th>" in (smoke["out"] / "summary.html").read_text()


LOCATED_WORDS = {  # variant: (words of the visible tests and of the hidden checks in its report, a class-view line)
    "crop_one_row_low+unpooled_block": (
        [
            "your crop starts at row 4, column 4 of the 12 x 16 input",  # the visible test's words
            "your crop starts at row 13, column 12 of the 125 x 125 input",
        ],  # the hidden check's
        "<li>crop: window off by one row (located): 1</li>",
    ),
    "conv2_half_channels+expand2_given_x3": (
        [
            "Where it goes wrong: conv2 has in_channels 8; the specification's has in_channels 16; conv2 raised when "
            "called on (2, 16, 12, 10)",  # test_expanding_block_layers
            "it is the output of contract3 (shape (1, 32, 20, 18)) where the specification passes the output of "
            "contract2 (shape (1, 16, 45, 41)), and expand2 raised (the line `x6 = self.expand2(x5, x3)` of your "
            "UNet.forward)",  # test_unet_shape, visible
            "name 'losses' is not defined, because the cell In [",  # test_training
            "raised in your ExpandingBlock.forward at `x = self.activation(self.conv2(x))`, called from your "
            "UNet.forward at `x5 = self.expand1(x4, x3)`",
            "these did not: your ExpandingBlock (test_expanding_block_shape",
        ],
        "<li>UNet: expand2: another input 2 (located): 1</li>",
    ),
}


@pytest.mark.parametrize(
    "variant", [variant for variant in CATALOGUE if variant.located], ids=lambda variant: variant.name
)
def test_every_bug_off_the_list_is_located_in_its_report_and_counted_in_the_class_files(smoke, variant):
    student = smoke["students"][variant.name]
    text = _text((smoke["out"] / "feedback" / f"{student}.html").read_text())
    words, counted = LOCATED_WORDS[variant.name]
    for said in words:
        assert said in text, said
    assert "known mistake" not in text
    with open(smoke["out"] / "mistakes.csv", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["student"] == student]
    assert {row["mistake"] for row in rows if row["kind"] == "located"} == set(variant.located)
    summary = (smoke["out"] / "summary.html").read_text()
    assert counted in summary


def test_no_correct_submission_gets_a_diagnosis(smoke):
    with open(smoke["out"] / "mistakes.csv", newline="") as handle:
        diagnosed = {row["student"] for row in csv.DictReader(handle)}
    for variant in CATALOGUE:
        if not variant.fails and variant.raw is None:
            page = smoke["out"] / "feedback" / f"{smoke['students'][variant.name]}.html"
            assert "known mistake" not in _text(page.read_text()), variant.name
            assert smoke["students"][variant.name] not in diagnosed, variant.name  # neither named nor located


def test_complete_reports_are_small_and_show_the_carried_code_as_released(quick):
    for variant in QUICK:
        page = quick["out"] / "feedback" / f"{quick['students'][variant.name]}.html"
        assert page.stat().st_size <= 500_000, f"{variant.name}: {page.stat().st_size:,} bytes"
        text = _text(page.read_text())
        carried = [cell for cell in nbformat.read(SOURCE_NOTEBOOK, as_version=4).cells if inlined_module(cell)]
        assert (
            "The training run" in text
            and text.count("The course's own code, as released, runs here") == len(carried) == 12
        )


def test_a_report_and_the_summary_read_right_in_a_browser(smoke):
    """Rendered by headless Chromium: the report's table and the summary's text are on the page, no hidden test is."""
    from tests.browser import rendered_text, require_chromium

    require_chromium()
    student = smoke["students"]["avgpool+nearest_upsample+tags_raises_exception+duplicated_tests"]
    text = " ".join(_text(rendered_text(smoke["out"] / "feedback" / f"{student}.html")).split())
    assert "Part: ContractingBlock(input_channels)" in text and "test_contracting_block_forward: failed" in text
    assert "average pooling (the specification asks for nn.MaxPool2d(kernel_size=2, stride=2))" in text
    assert "test_contracting_block_forward (Score: 0.0 / 10.0)" in text and "Test cell" not in text
    hidden = check_code_lines()
    assert [line for line in hidden if line in text and line not in smoke["submitted"][student]] == []
    summary = " ".join(_text(rendered_text(smoke["out"] / "summary.html")).split())
    assert "Class summary" in summary and "ExpandingBlock: nearest-neighbour upsampling:" in summary


def test_the_report_says_each_mistake_once_per_test_and_counts_dropped_copies_in_a_browser(smoke):
    """As Chromium shows the report: the mistake both the visible test and the hidden check found is said once in
    each failed test's row; the three duplicated tests' six dropped copies are one line of the repairs."""
    from tests.browser import measured, require_chromium

    require_chromium()
    student = smoke["students"]["avgpool+nearest_upsample+tags_raises_exception+duplicated_tests"]
    seen = measured(
        smoke["out"] / "feedback" / f"{student}.html",
        """
        const row = id => document.getElementById('score-' + id).innerText;
        return {forward: row('test_contracting_block_forward'), layers: row('test_contracting_block_layers'),
                upsample: row('test_expanding_block_layers'),
                repairs: Array.from(document.querySelectorAll('.repairs li')).map(item => item.innerText)};""",
    )
    for test in ("forward", "layers"):
        assert seen[test].count("average pooling (the specification asks for") == 1, seen[test]
        assert "Hidden tests:" in seen[test], seen[test]
    assert seen["upsample"].count("nearest-neighbour upsampling (the specification asks for") == 1, seen["upsample"]
    dropped = [line for line in seen["repairs"] if "dropped" in line]
    assert dropped == [
        "6 copies of 3 cells were dropped: test_expanding_block_shape (2), "
        "test_expanding_block_layers (2), test_expanding_block_forward (2)"
    ], seen["repairs"]
