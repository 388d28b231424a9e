"""The grader's pieces, without running a kernel: naming submissions, reading and rebuilding them, the CSV,
the nbgrader configuration and the feedback's traceback filter."""

import functools
import json
import os
import subprocess
import sys

import nbformat
import pytest

from autograder.grading import batch, forked, grade, keys, normalise, submissions, template, worker
from autograder.grading.options import GradingOptions
from autograder.grading.plugins import GradingExecute, _scrub
from autograder.release.course import RELEASE_NOTEBOOK, REPO_ROOT
from autograder.reports import report
from autograder.reports.result import Result, status
from tests import forked_stand_ins
from tests.catalogue import (
    CROP_SQUARE_ONLY,
    Variant,
    build,
    colab_saved,
    duplicate_tests,
    fill,
    retype_tests,
    strip_metadata,
    tag_tests,
)


@pytest.fixture(scope="module")
def release():
    return nbformat.read(RELEASE_NOTEBOOK, as_version=4)


# ---- naming ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "relative, student",
    [
        ("alice.ipynb", "alice"),
        ("bob/Copy of UNet_Assignment.ipynb", "bob"),
        ("carol/UNet_Assignment (3).ipynb", "carol"),
        ("submitted/dave/UNet_Assignment/UNet_Assignment.ipynb", "dave"),
        ("eve/UNet_Assignment.ipynb", "eve"),
        ("frank - UNet_Assignment.ipynb", "frank - UNet_Assignment"),
    ],
)
def test_student_id_from_file_or_folder(tmp_path, relative, student):
    path = tmp_path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}")
    assert submissions.student_id(path) == student


def test_folders_are_searched_and_ids_made_unique(tmp_path):
    for relative in [
        "a/UNet_Assignment.ipynb",
        "a/UNet_Assignment (1).ipynb",
        "b.ipynb",
        ".ipynb_checkpoints/b.ipynb",
        "notes.txt",
    ]:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("{}")
    found = submissions.find_submissions([tmp_path, tmp_path / "b.ipynb"])
    assert [s.student for s in found] == ["a", "a [UNet_Assignment.ipynb]", "b"]


def test_explicit_file_of_any_kind_is_a_submission_and_missing_paths_are_usage_errors(tmp_path):
    (tmp_path / "eve.txt").write_text("hello")
    assert [s.student for s in submissions.find_submissions([tmp_path / "eve.txt"])] == ["eve"]
    with pytest.raises(submissions.UsageError, match="no such file or folder"):
        submissions.find_submissions([tmp_path / "missing.ipynb"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(submissions.UsageError, match="no .ipynb file"):
        submissions.find_submissions([tmp_path / "empty"])


def test_command_line_usage_errors_exit_2_with_a_message(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "autograder", "grade", *args], capture_output=True, text=True)

    missing = run(str(tmp_path / "nothing.ipynb"), "--out", str(tmp_path / "out"))
    assert missing.returncode == 2 and "no such file or folder" in missing.stderr
    (tmp_path / "a.ipynb").write_text("{}")
    bad_workers = run(str(tmp_path / "a.ipynb"), "--out", str(tmp_path / "out"), "--workers", "0")
    assert bad_workers.returncode == 2 and "--workers" in bad_workers.stderr
    no_out = run(str(tmp_path / "a.ipynb"))
    assert no_out.returncode == 2 and "--out" in no_out.stderr
    assert not (tmp_path / "out").exists()


def test_sandbox_is_used_when_it_works_and_never_pretended(monkeypatch):
    from autograder.sandbox import kernel as sandbox

    asked = []
    monkeypatch.setattr(
        sandbox, "probe", lambda limits=None, gpu=False: asked.append(gpu) or sandbox.Status(True, "bubblewrap")
    )
    assert grade.use_sandbox("auto", "quick") == (True, "bubblewrap")
    assert grade.use_sandbox("off", "quick")[0] is False
    assert grade.use_sandbox("auto", "full") == (True, "bubblewrap"), "full mode runs in the sandbox too"
    assert asked == [False, True], "the sandbox of full mode is the one that shows the GPU"
    assert grade.use_sandbox("off", "full") == (False, "--sandbox off")
    monkeypatch.setattr(sandbox, "probe", lambda limits=None, gpu=False: sandbox.Status(False, "no bwrap here"))
    assert grade.use_sandbox("auto", "smoke") == (False, "no bwrap here")


def test_sandboxed_job_gets_the_sandbox_kernel_and_interrupts_by_message(tmp_path, sandbox):
    session = grade.Session("smoke", sandbox=True)
    session.data, session.template = tmp_path, tmp_path / "template"
    (tmp_path / "template").mkdir()
    (tmp_path / "template" / "gradebook.db").write_bytes(b"")
    _, job, env, box = session.prepare_job("s", fill(), [], tmp_path / "course", slot=7)
    box.close()
    spec = json.loads(
        (tmp_path / "course" / "jupyter" / "kernels" / job["sandbox"]["kernel_name"] / "kernel.json").read_text()
    )
    assert spec["interrupt_mode"] == "message" and "bwrap" in spec["argv"]
    assert not os.path.ismount(tmp_path / "course" / "kernel"), "the scratch's tmpfs outlived its grading"
    assert job["sandbox"]["uid"] == 61007 and env["JUPYTER_PATH"].startswith(str(tmp_path / "course" / "jupyter"))
    config = worker.nbgrader_config(job)
    assert config.GradingExecute.sandbox_uid == 61007 and config.AsyncSandboxKernelManager.transport == "ipc"
    settings = spec["argv"][spec["argv"].index("--clearenv") + 1 :]
    assert "UNET_GRADING_MODE" in settings and str(tmp_path) in settings  # the data folder, read-only


def test_the_scratch_and_its_processes_go_even_when_grading_fails(tmp_path, sandbox, monkeypatch):
    session = grade.Session("smoke", sandbox=True)
    session.data, session.template = tmp_path, tmp_path / "template"
    seen = {}

    def worker_that_crashes(job_path, course, job, env, tag=None):
        scratch = job["sandbox"]["scratch"]
        seen.update(mounted=os.path.ismount(scratch), scratch=scratch)
        raise RuntimeError("the worker crashed")

    monkeypatch.setattr(session, "run_worker", worker_that_crashes)
    (tmp_path / "template").mkdir()
    (tmp_path / "template" / "gradebook.db").write_bytes(b"")
    with pytest.raises(RuntimeError, match="the worker crashed"):
        session.autograde("s", fill(), [], tmp_path / "course", slot=8)
    assert seen["mounted"], "the kernel's scratch is a tmpfs of its own while it is graded"
    assert not os.path.exists(seen["scratch"]), "the scratch folder must go whatever happened"


def test_auto_mode_is_full_with_a_gpu_and_quick_without(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert grade.resolve_mode("auto") == "full"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert grade.resolve_mode("auto") == "quick"
    assert grade.resolve_mode("full") == "full"


# ---- reading and rebuilding ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty file"),
        (b"  \n", "empty file"),
        (b'{"cells": [', "invalid JSON"),
        (b"\x89PNG\r\n\x1a\n\x00", "invalid JSON"),
        (b"[1, 2]", "not a notebook"),
        (b'{"cells": "none"}', "not a notebook"),
        (b'{"cells": [], "nbformat": 99, "nbformat_minor": 0, "metadata": {}}', "not a notebook"),
    ],
)
def test_unreadable_submissions_get_a_short_reason(tmp_path, content, reason):
    path = tmp_path / "x.ipynb"
    path.write_bytes(content)
    with pytest.raises(normalise.InvalidSubmission) as error:
        normalise.read_submission(path)
    assert str(error.value) == reason


def rebuilt(tmp_path, release, variant):
    path = tmp_path / "s.ipynb"
    path.write_bytes(build(variant))
    return normalise.rebuild(normalise.read_submission(path), release)


def code_by_grade_id(notebook):
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in notebook.cells if "nbgrader" in cell.metadata
    }


def test_rebuild_keeps_the_release_cells_and_the_students_code(tmp_path, release):
    notebook, notes = rebuilt(tmp_path, release, Variant("square", {"crop": CROP_SQUARE_ONLY}))
    assert [cell.id for cell in notebook.cells] == [cell.id for cell in release.cells]
    assert "top:top + new_shape[2], top:top + new_shape[2]" in code_by_grade_id(notebook)["crop"]
    assert notes == []


@pytest.mark.parametrize(
    "edit",
    [
        strip_metadata,
        colab_saved(keep_nbgrader=False),
        colab_saved(),
        tag_tests("skip-execution", "raises-exception"),
        duplicate_tests("test_crop_shape"),
        retype_tests("test_crop_shape"),
    ],
    ids=["stripped", "colab-stripped", "colab", "tags", "duplicated", "retyped"],
)
def test_rebuild_gives_every_test_once_untagged_as_released(tmp_path, release, edit):
    notebook, _ = rebuilt(tmp_path, release, Variant("v", {"crop": CROP_SQUARE_ONLY}, edit=edit))
    release_code = code_by_grade_id(release)
    code = code_by_grade_id(notebook)
    tests = [cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade")]
    assert [cell.metadata["nbgrader"]["grade_id"] for cell in tests] == [
        cell.metadata["nbgrader"]["grade_id"]
        for cell in release.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    ]
    assert all(
        cell.cell_type == "code" and code[gid] == release_code[gid]
        for gid in code
        for cell in tests
        if cell.metadata["nbgrader"]["grade_id"] == gid
    )
    assert not any(cell.metadata.get("tags") for cell in notebook.cells)
    assert "top:top + new_shape[2], top:top + new_shape[2]" in code["crop"]
    assert code["unet"] == fill().cells[[c.id for c in release.cells].index("unet-solution")].source


def test_dropped_copies_are_counted_in_one_note(tmp_path, release):
    three = ("test_crop_shape", "test_crop_centre", "test_unet_shape")
    _, notes = rebuilt(tmp_path, release, Variant("v", edit=duplicate_tests(*three)))
    assert notes == ["6 copies of 3 cells were dropped: test_crop_shape (2), test_crop_centre (2), test_unet_shape (2)"]
    _, notes = rebuilt(tmp_path, release, Variant("v", edit=duplicate_tests("test_crop_shape")))
    assert notes == ["2 copies of the cell test_crop_shape were dropped"]
    assert normalise.dropped_copies(["test_crop_shape"]) == "a copy of the cell test_crop_shape was dropped"


def test_extra_cells_keep_their_place_and_one_cell_may_hold_several_parts(tmp_path, release):
    def edit(notebook):
        cells = notebook["cells"]
        solutions = {
            c["metadata"]["nbgrader"]["grade_id"]: c for c in cells if c["metadata"].get("nbgrader", {}).get("solution")
        }
        solutions["crop"]["source"] += "\n\n" + solutions["feature_map_block"]["source"]
        cells.remove(solutions["feature_map_block"])
        helper = {
            "cell_type": "code",
            "metadata": {"tags": ["skip-execution"]},
            "source": "HELPER = 1",
            "outputs": [],
            "execution_count": None,
            "id": "mine",
        }
        cells.insert(cells.index(solutions["crop"]) + 1, helper)
        return notebook

    notebook, _ = rebuilt(tmp_path, release, Variant("v", edit=edit))
    sources = [cell.source for cell in notebook.cells]
    crop_index = next(i for i, c in enumerate(notebook.cells) if c.id == "crop-solution")
    assert sources[crop_index + 1] == "HELPER = 1" and notebook.cells[crop_index + 1].metadata == {}
    assert "class FeatureMapBlock" in sources[crop_index]
    assert code_by_grade_id(notebook)["feature_map_block"].startswith("# FeatureMapBlock is defined")


# ---- outputs -------------------------------------------------------------------------------------------------


def test_csv_is_written_atomically(tmp_path, monkeypatch):
    result = Result("s", {"t": 1.0}, {"t": 2.0}, "quick", "ok")
    path = tmp_path / "grades.csv"
    report.write_grades(path, [result], ["t"])
    assert path.read_text() == "student,t,total,max_total,mode,status\ns,1,1,2,quick,ok\n"
    monkeypatch.setattr(os, "replace", lambda *args: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        report.write_grades(path, [result, result], ["t"])
    assert path.read_text() == "student,t,total,max_total,mode,status\ns,1,1,2,quick,ok\n"
    assert [p.name for p in tmp_path.iterdir()] == ["grades.csv"]


# ---- nbgrader's configuration --------------------------------------------------------------------------------


def job(**changes):
    options = GradingOptions("quick", timeout=60, max_output_bytes=1000)
    base = {
        "course": "/tmp/c",
        "student": "s",
        "options": options.job(),
        "cell_timeouts": {"train": 300},
        "skip_tag": "never-skip-123",
        "preamble": grade.preamble(1000),
    }
    return {**base, **changes}


def test_nbgrader_configuration_closes_its_loopholes():
    config = worker.nbgrader_config(job())
    assert config.IgnorePattern.enabled is True and config.IgnorePattern.pattern == worker.STDERR_PATTERN
    sanitize = [cls.__name__ for cls in config.Autograde.sanitize_preprocessors]
    assert "OverwriteCells" not in sanitize and "ClearOutput" in sanitize  # cells restored once: by rebuild()
    assert config.GradingExecute.skip_cells_with_tag not in ("skip-execution", "")
    assert config.GradingExecute.cell_timeouts == {"train": 300} and config.GradingExecute.timeout == 60
    feedback = [cls.__name__ for cls in config.GenerateFeedback.preprocessors]
    assert feedback.index("HideTestCode") < feedback.index("ClearHiddenTests")
    assert config.Autograde.autograde_preprocessors[0] is GradingExecute
    assert config.GradingExecute.grading_mode == "quick" and config.GradingExecute.max_output_bytes == 1000


def test_the_release_that_rebuild_restores_from_holds_the_gradebooks_cells(tmp_path):
    """rebuild() restores every locked and test cell from the release; nbgrader's OverwriteCells, which the worker
    leaves out, would restore them from the gradebook of the template course. Both hold the same cells (type, source,
    checksum, points), so keeping one of the two ways loses nothing."""
    from nbgrader.api import Gradebook
    from nbgrader.utils import compute_checksum

    from autograder.release.course import ASSIGNMENT, make_course, run_nbgrader

    course = make_course(tmp_path / "course")
    run_nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_notebook(ASSIGNMENT, ASSIGNMENT)
        cells = {cell.name: (cell.cell_type, cell.source, cell.locked, cell.checksum) for cell in notebook.source_cells}
        points = {cell.name: cell.max_score for cell in notebook.grade_cells}
    release = nbformat.read(RELEASE_NOTEBOOK, as_version=4)
    locked = [cell for cell in release.cells if cell.metadata.get("nbgrader", {}).get("locked")]
    assert len(locked) >= 20
    for cell in locked:
        name = cell.metadata["nbgrader"]["grade_id"]
        assert cells[name] == (cell.cell_type, cell.source, True, compute_checksum(cell)), name
    assert points == {
        cell.metadata["nbgrader"]["grade_id"]: cell.metadata["nbgrader"]["points"]
        for cell in release.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    }


def test_each_job_gets_its_own_unguessable_skip_tag(tmp_path):
    session = grade.Session("smoke")
    session.template = tmp_path / "template"
    session.template.mkdir()
    (session.template / "gradebook.db").write_bytes(b"")
    jobs = [session.prepare_job("s", fill(), [], tmp_path / f"c{number}")[1] for number in range(2)]
    assert len({job["skip_tag"] for job in jobs}) == 2 and all(len(job["skip_tag"]) > 30 for job in jobs)
    assert jobs[0]["cell_timeouts"]["train"] >= grade.MODES["smoke"].long_cell_timeout


def test_kernel_environment_has_the_modes_settings_and_nothing_of_the_graders(tmp_path, monkeypatch):
    monkeypatch.setattr("autograder.grading.preparation.reference_run", lambda settings, threads: "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("UNET_EPOCHS", "1")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    env = batch.Grader(tmp_path, "quick", workers=2).session.kernel_environment(tmp_path / "course")
    assert env["UNET_GRADING_MODE"] == "quick" and env["UNET_CHECKPOINT_DIR"] == str(
        tmp_path / "course" / "checkpoints"
    )
    assert env["UNET_EPOCHS"] == str(grade.MODES["quick"].settings["epochs"]) and "PYTHONPATH" not in env
    assert env["PYTHONHASHSEED"] == "0"
    assert env["TMPDIR"] == str(tmp_path / "course" / "tmp"), "temporary files go with the course folder"
    full = grade.Session("full").kernel_environment(tmp_path / "course")
    assert "UNET_EPOCHS" not in full and full["UNET_GRADING_MODE"] == "full"


@pytest.mark.parametrize("mode", ["quick", "smoke"])
def test_the_cpu_modes_train_on_the_cpu_even_where_a_gpu_is_in_sight(mode, monkeypatch):
    """Quick mode's bar and the reference's run checked against it are the CPU's: without the sandbox (which hides the
    GPU outside full mode) a kernel would otherwise train on a GPU the grader can see, in another run."""
    monkeypatch.delenv("UNET_DEVICE", raising=False)
    settings = grade.Session(mode)._run_settings()
    assert settings["UNET_DEVICE"] == "cpu", settings
    assert "UNET_DEVICE" not in grade.Session("full")._run_settings()


def test_every_kernel_trains_in_the_precision_the_grader_chose_once(tmp_path, monkeypatch):
    asked = []

    def measure(hidden_channels, threads, device):
        asked.append((hidden_channels, threads, device))
        return "bf16", "contiguous", "measured"

    monkeypatch.setattr("autograder.grading.preparation.precision_and_layout", measure)
    monkeypatch.setattr("autograder.grading.preparation.reference_run", lambda settings, threads: "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    grader = batch.Grader(tmp_path, "quick", workers=2)
    envs = [grader.session.kernel_environment(tmp_path / f"course-{n}") for n in range(3)]
    assert [(env["UNET_PRECISION"], env["UNET_LAYOUT"]) for env in envs] == [("bf16", "contiguous")] * 3
    assert asked == [(grade.MODES["quick"].settings["hidden_channels"], grader.session.threads, "cpu")], (
        "measured once for the batch, for the mode's U-Net at the kernels' threads on the CPU, not once per kernel"
    )


def test_the_precision_is_measured_in_a_child_where_the_graders_settings_win(tmp_path, monkeypatch):
    """preparation.py's child, for real: UNET_PRECISION and UNET_LAYOUT of the grader's environment are what the
    kernels get, and the grader's own process has not imported torch for it."""
    monkeypatch.setenv("UNET_PRECISION", "fp32")
    monkeypatch.setenv("UNET_LAYOUT", "channels_last")
    env = grade.Session("smoke").kernel_environment(tmp_path / "c")
    assert (env["UNET_PRECISION"], env["UNET_LAYOUT"]) == ("fp32", "channels_last")
    asked = "from autograder.grading import grade; import sys; print(grade.Session('smoke').precision()[2]); "
    ran = subprocess.run(
        [sys.executable, "-c", asked + "print('torch' in sys.modules)"], capture_output=True, text=True, cwd=REPO_ROOT
    )
    why, imported = ran.stdout.strip().splitlines()[-2:]
    assert why.startswith("precision fp32"), why
    assert imported == "False", "the grader's own process imported torch"


def test_cell_time_limits_come_from_the_cells_grade_id():
    executor = GradingExecute(timeout=60, cell_timeouts={"train": 900})
    train = nbformat.v4.new_code_cell("fit()", metadata={"nbgrader": {"grade_id": "train"}})
    other = nbformat.v4.new_code_cell("1")
    assert executor._get_timeout(train) == 900 and executor._get_timeout(other) == 60


# ---- the feedback's tracebacks -------------------------------------------------------------------------------


def test_traceback_frames_of_test_cells_lose_their_hidden_lines():
    test_cell = nbformat.v4.new_code_cell(
        "x = 1\n### BEGIN HIDDEN TESTS\nassert secret()\n### END HIDDEN TESTS\nassert x == 2"
    )
    tests = {7: test_cell}
    hidden_frame = "\x1b[0;32mCell In[7], line 3\x1b[0m\n      1 x = 1\n----> 3 assert secret()\n"
    visible_frame = "Cell In[7], line 5\n      3 assert secret()\n----> 5 assert x == 2\n"
    student_frame = "Cell In[3], line 2, in crop(image)\n----> 2 return image[0]\n"
    assert _scrub(hidden_frame, tests) == "Cell In[7], line 3\n      (in the hidden tests)"
    assert _scrub(visible_frame, tests) == "Cell In[7], line 5\n----> 5 assert x == 2"
    assert _scrub(student_frame, tests) == student_frame
    assert _scrub("AssertionError: the message", tests) == "AssertionError: the message"


def test_catalogue_variants_are_valid_notebooks_and_distinct():
    from tests.catalogue import CATALOGUE, QUICK

    names = [variant.name for variant in CATALOGUE]
    assert len(names) == len(set(names)) >= 20
    for variant in CATALOGUE + QUICK:
        if variant.raw is None:
            nbformat.reads(build(variant).decode(), as_version=4)
    code = [cell["source"] for cell in json.loads(build(CATALOGUE[0]))["cells"] if cell["cell_type"] == "code"]
    assert not any("raise NotImplementedError()" in source for source in code), "a stub is left unfilled"


@pytest.mark.parametrize("way", ["forked", "subprocess"])
def test_a_worker_that_fails_or_hangs_gives_a_status_not_a_crash(tmp_path, monkeypatch, way):
    if way == "subprocess":  # where no fork server can be used (forked.py)
        monkeypatch.setattr(forked, "available", lambda: False)
    session = grade.Session("smoke", log=lambda message: None)
    course = tmp_path / "course"
    course.mkdir()
    job_path = course / "job.json"
    job_path.write_text("{}")  # the worker cannot run this job
    env = session.kernel_environment(course)
    assert session.run_worker(job_path, course, {"student_id": "s"}, env) == "grading error (worker exit 1)"
    monkeypatch.setattr(session, "hard_limit", lambda: 0.2)  # stopped long before it could finish:
    if way == "forked":  # a forked worker fails that job within 0.2 s; this one hangs (a subprocess starts slower)
        monkeypatch.setattr(forked, "start", functools.partial(forked.start, main=forked_stand_ins.wait_for_the_end))
    assert session.run_worker(job_path, course, {"student_id": "s"}, env) == "grading stopped after 0.2 s"
    assert (
        status("grading stopped after 0.2 s", (), "--sandbox off")
        == "grading stopped after 0.2 s; no sandbox (--sandbox off)"
    )
    assert status(None, ["test_crop_shape"], "") == "not graded: test_crop_shape" and status() == "ok"


# ---- the grader's training check, per mode (no training: its inputs are made up) ----------------------------


def test_training_check_full_mode_asks_for_the_real_runs_settings_and_quality(monkeypatch, data_env):
    """The grader's training check (verdicts.training_shortfall): the kernel's settings must be the mode's (in
    full mode the course's real run), and the held-out prediction must meet the mode's bar."""
    import autograder.authoring.policy
    import lesson.training
    from autograder.judging import verdicts
    from lesson.config import read_config

    monkeypatch.setenv("UNET_DATA_DIR", data_env["UNET_DATA_DIR"])
    full = read_config({})  # full mode: the course's recipe
    model = verdicts._reference().UNet(1, 1, hidden_channels=full.hidden_channels)

    def answer(**settings):
        weights = {name: value.detach().numpy() for name, value in model.state_dict().items()}
        return {
            **weights,
            **{f"config.{name}": getattr(full, name) for name in ("epochs", "hidden_channels", "input_size")},
            **{f"config.{name}": value for name, value in settings.items()},
        }

    monkeypatch.setattr(lesson.training, "predict_slices", lambda model, images, device=None, **settings: images * 0.0)
    monkeypatch.setattr(
        autograder.authoring.policy, "training_shortfall", lambda labels, prediction, mode: f"{mode} bar not met"
    )
    assert verdicts.training_shortfall(answer(), full, "full") == "full bar not met"
    assert "changed after the settings cell: {'epochs': 20}" in verdicts.training_shortfall(
        answer(epochs=20), full, "full"
    )
    assert verdicts.training_shortfall(answer(), full, "smoke") == ""  # smoke mode: no bar


def test_huge_output_is_dropped_in_the_kernel_and_as_it_arrives(tmp_path):
    """200 MB printed by a cell: 1 MB of it reaches the notebook, and the grader never holds much more."""
    import tracemalloc

    source = "for _ in range(200):\n    print('x' * 1_000_000)"
    cells = [nbformat.v4.new_code_cell(source), nbformat.v4.new_code_cell("print('next cell')")]
    for preamble in (grade.preamble(1_000_000), "pass"):  # with the kernel's cap, then the grader's alone
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell.source) for cell in cells])
        executor = GradingExecute(
            timeout=300,
            max_output_bytes=1_000_000,
            kernel_name="python3",
            extra_arguments=[f"--InteractiveShellApp.exec_lines={preamble}"],
        )
        tracemalloc.start()
        try:
            executor.preprocess(notebook, {"metadata": {"path": str(tmp_path)}})
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        kept = "".join(output.get("text", "") for output in notebook.cells[0].outputs)
        assert 900_000 < len(kept) < 1_100_000 and "output truncated by the grader" in kept
        assert notebook.cells[1].outputs[0]["text"] == "next cell\n"
        if preamble != "pass":
            assert peak < 30_000_000, f"the grader held {peak / 1e6:.0f} MB while 200 MB were printed"


def test_grading_execute_times_each_stage(tmp_path):
    """The seconds of a grading, per stage: the kernel's start, then each cell's stage (by grade_id)."""
    cells = [
        nbformat.v4.new_code_cell("import time; time.sleep(0.5)", metadata={"nbgrader": {"grade_id": "train"}}),
        nbformat.v4.new_code_cell("x = 1"),
    ]
    executor = GradingExecute(
        timeout=60, kernel_name="python3", stages={"train": "training"}, timings_path=str(tmp_path / "timings.json")
    )
    executor.preprocess(nbformat.v4.new_notebook(cells=cells), {"metadata": {"path": str(tmp_path)}})
    timings = json.loads((tmp_path / "timings.json").read_text())
    assert {"kernel start", "training", "notebook"} <= set(timings)
    assert timings["training"] >= 0.5 > timings["notebook"]


def test_a_prepared_template_is_made_once_and_made_again_for_another_release(tmp_path, monkeypatch):
    made = []

    def build(folder):
        made.append(folder.name)
        (folder / "gradebook.db").parent.mkdir(parents=True)
        (folder / "gradebook.db").write_text(f"made {len(made)}")
        return folder

    monkeypatch.setattr(template, "build_template", build)
    folder = tmp_path / "course-template"
    assert template.prepared_template(folder) == folder and len(made) == 1
    assert template.prepared_template(folder) == folder and len(made) == 1, "made from this release: used as it is"
    monkeypatch.setattr(template, "template_key", lambda: "another release")
    template.prepared_template(folder)
    assert len(made) == 2 and (folder / "gradebook.db").read_text() == "made 2"
    assert all(name.endswith(".partial") for name in made), "made beside it, then renamed into place"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["course-template"]


def test_the_template_key_changes_with_the_code(tmp_path, monkeypatch):
    key = template.template_key()
    assert key == template.template_key() and len(key) == 64
    root = tmp_path / "repo"
    for package in ("autograder", "lesson", "data", "solutions"):
        (root / package).mkdir(parents=True)
    release = root / "UNet_Assignment.ipynb"
    release.write_text("{}")
    monkeypatch.setattr(keys, "REPO_ROOT", root)  # the code digest the template key shares with kept results
    monkeypatch.setattr(template, "RELEASE_NOTEBOOK", release)
    before = template.template_key()
    (root / "autograder" / "checks.py").write_text("x = 1\n")
    assert template.template_key() != before
