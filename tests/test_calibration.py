"""The reference's own quick run on the grading machine (autograder/grading/calibration.py): the kernels train in a
setting where it passes the training test's bar, or the batch stops before grading and says why."""

import functools
import json
import os
import subprocess
import sys

import pytest
import torch

from autograder.grading import batch, calibration, grade, preparation
from autograder.release.course import RELEASE_NOTEBOOK, REPO_ROOT
from data.isbi2012 import split_holdout
from data.source import LOADER_ENV, load_dataset
from data.synthetic import write_synthetic_dataset
from lesson import training
from lesson.config import read_config
from solutions.reference import load_reference

CHOSEN = ("bf16", "channels_last", "measured: bf16 in channels_last 1.9x")
SHORT = "the reference's own quick run fell short here: held-out v_rand 0.0000 should beat calling every pixel interior"


@pytest.fixture
def runs(monkeypatch, tmp_path):
    """The reference runs asked for, as (UNET_PRECISION, UNET_LAYOUT, threads); each falls short where `failing`
    (a set of (precision, layout)) says. Verdicts are kept in a fresh cache folder."""
    asked, failing = [], set()

    def reference_run(settings, threads):
        setting = (settings["UNET_PRECISION"], settings["UNET_LAYOUT"])
        asked.append((*setting, threads))
        return SHORT if setting in failing else ""

    monkeypatch.setattr(preparation, "reference_run", reference_run)
    monkeypatch.delenv("UNET_PRECISION", raising=False)
    monkeypatch.delenv("UNET_LAYOUT", raising=False)
    check = functools.partial(calibration.checked_settings, cache_dir=tmp_path / "cache", log=lambda line: None)
    return asked, failing, check


def test_a_quick_batch_keeps_the_chosen_setting_where_the_reference_passes_in_it(runs):
    """The chosen precision and layout stay when the reference's own quick run passes the bar in them."""
    asked, _, check = runs
    assert check("quick", CHOSEN, {"UNET_EPOCHS": "10"}, 1) == CHOSEN
    assert asked == [("bf16", "channels_last", 1)], f"one reference run, in the chosen setting; got {asked}"


@pytest.mark.parametrize("mode", ["smoke", "full"])
def test_only_quick_mode_trains_the_reference_first(runs, mode):
    """Smoke mode has no bar, and full mode's run is the real one on a GPU: neither trains the reference first."""
    asked, _, check = runs
    assert check(mode, CHOSEN, {}, 1) == CHOSEN
    assert asked == [], f"no reference run in {mode} mode; got {asked}"


def test_where_the_reference_falls_short_in_the_fastest_setting_the_courses_setting_is_taken(runs):
    """bf16 in channels_last misses the bar, fp32 in contiguous passes: the kernels train in fp32, and the reason
    says what fell short."""
    asked, failing, check = runs
    failing.add(("bf16", "channels_last"))
    precision, layout, why = check("quick", CHOSEN, {}, 2)
    assert (precision, layout) == calibration.COURSE_SETTING
    assert "bf16 in channels_last" in why and SHORT in why, why
    assert asked == [("bf16", "channels_last", 2), ("fp32", "contiguous", 2)]


def test_where_the_reference_falls_short_everywhere_the_batch_stops_and_says_why(runs):
    """No setting in which the reference passes: ReferenceRunFails names each shortfall and what to do."""
    _, failing, check = runs
    failing.update({("bf16", "channels_last"), calibration.COURSE_SETTING})
    with pytest.raises(calibration.ReferenceRunFails) as stopped:
        check("quick", CHOSEN, {}, 1)
    message = str(stopped.value)
    assert "cannot grade fairly on this machine" in message and "--mode full" in message, message
    assert "in bf16 in channels_last" in message and "in fp32 in contiguous" in message, message


def test_a_setting_the_grader_pinned_is_the_only_one_tried(runs, monkeypatch):
    """UNET_PRECISION in the grader's environment: no other setting is tried, and the message says to unset it."""
    asked, failing, check = runs
    monkeypatch.setenv("UNET_PRECISION", "bf16")
    failing.add(("bf16", "channels_last"))
    with pytest.raises(calibration.ReferenceRunFails, match="without UNET_PRECISION and UNET_LAYOUT set"):
        check("quick", CHOSEN, {}, 1)
    assert asked == [("bf16", "channels_last", 1)]


def test_a_verdict_is_kept_and_reused_only_under_the_same_key(runs, tmp_path):
    """A second batch with the same settings trains nothing; other settings or threads train again; a damaged cache
    file is trained past, not trusted."""
    asked, _, check = runs
    check("quick", CHOSEN, {"UNET_EPOCHS": "10"}, 1)
    check("quick", CHOSEN, {"UNET_EPOCHS": "10", "UNET_CHECKPOINT_DIR": "/elsewhere", "UNET_DATA_DIR": "/tmp/x"}, 1)
    assert len(asked) == 1, "the same key (the batch's temporary folders are not in it): the kept verdict"
    check("quick", CHOSEN, {"UNET_EPOCHS": "12"}, 1)
    check("quick", CHOSEN, {"UNET_EPOCHS": "10"}, 2)
    assert len(asked) == 3, "other settings, other threads: trained again"
    (tmp_path / "cache" / calibration.CACHE_NAME).write_text("{not json")
    check("quick", CHOSEN, {"UNET_EPOCHS": "10"}, 1)
    assert len(asked) == 4
    assert json.loads((tmp_path / "cache" / calibration.CACHE_NAME).read_text()), "written again, whole"


def test_the_batch_trains_its_kernels_in_the_setting_the_reference_passed_in(tmp_path, runs, monkeypatch):
    """Session.precision() is the checked setting: every kernel's UNET_PRECISION and UNET_LAYOUT."""
    asked, failing, _ = runs
    failing.add(("bf16", "channels_last"))
    monkeypatch.setattr(preparation, "precision_and_layout", lambda width, threads, device: CHOSEN)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    session = batch.Grader(tmp_path / "out", "quick", workers=2).session
    env = session.kernel_environment(tmp_path / "course")
    assert (env["UNET_PRECISION"], env["UNET_LAYOUT"]) == calibration.COURSE_SETTING
    assert [run[:2] for run in asked] == [("bf16", "channels_last"), calibration.COURSE_SETTING]
    assert all(run[2] == session.threads for run in asked), "trained at the kernels' threads"


def test_the_command_stops_before_grading_and_says_why(tmp_path, monkeypatch, capsys):
    """`grade` exits 2 with the reason when quick mode cannot grade fairly here; no grades.csv claims a grade."""
    from autograder import cli

    def unfair(self, submissions):
        raise calibration.ReferenceRunFails("quick mode cannot grade fairly on this machine: ...")

    monkeypatch.setattr(batch.Grader, "grade", unfair)
    monkeypatch.setattr(grade, "prepare_data", lambda: None)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "ann.ipynb").write_text(RELEASE_NOTEBOOK.read_text())
    code = cli.main(["grade", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--mode", "quick"])
    assert code == 2
    assert "cannot grade fairly on this machine" in capsys.readouterr().err


def test_the_reference_trains_as_the_notebooks_training_cell_trains_a_submission(tmp_path, monkeypatch):
    """preparation.train_reference and the release's data and training cells, run on the reference's parts, end
    with the same weights, to the bit: the reference's run stands for a correct submission's."""
    folder = write_synthetic_dataset(tmp_path / "data", n_slices=6, size=160, seed=1)
    monkeypatch.setenv("UNET_DATA_DIR", str(folder))
    monkeypatch.setenv(LOADER_ENV, "data.synthetic:load_dataset")
    monkeypatch.setenv("UNET_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    config = read_config(
        {}, epochs=2, hidden_channels=2, input_size=144, holdout_slices=2, device="cpu", learning_rate=3e-3
    )
    ours = preparation.train_reference(config)[0].state_dict()

    import nbformat

    cells = {cell.get("id"): cell.source for cell in nbformat.read(RELEASE_NOTEBOOK, as_version=4).cells}
    namespace = {
        **{name: getattr(training, name) for name in ("draw_weights", "checkpoint_path", "pick_device")},
        "fit": functools.partial(training.fit, show_figures=False),
        "load_isbi2012": load_dataset,
        "split_holdout": split_holdout,
        "UNet": load_reference().UNet,
        "config": config,
        "np": __import__("numpy"),
        "torch": torch,
    }
    for cell_id in ("load-data", "train"):
        exec(cells[cell_id], namespace)
    theirs = namespace["model"].state_dict()
    assert set(ours) == set(theirs)
    differing = [name for name in ours if not torch.equal(ours[name], theirs[name])]
    assert not differing, f"the reference's run and the notebook's differ in {differing[:3]}"


@pytest.mark.slow
def test_the_reference_run_is_judged_in_a_child_and_passes_quick_modes_bar(data_env):
    """preparation.reference_run for real, in quick mode's settings: the reference passes the bar, and the child's
    own lines (fit's) never reach the verdict."""
    session = grade.Session("quick", 2)
    settings = {**session._run_settings(), **data_env, "UNET_PRECISION": "fp32", "UNET_LAYOUT": "contiguous"}
    assert preparation.reference_run(settings, 2) == ""


def test_the_graders_own_process_never_imports_torch_to_check_the_reference(tmp_path):
    """Session.precision() in quick mode: the measurement and the reference's run happen in children."""
    code = (
        "import sys; from autograder.grading import calibration, preparation, grade\n"
        "preparation.reference_run = lambda settings, threads: ''\n"
        "calibration.preparation = preparation\n"
        "print(grade.Session('quick').precision()[0]); print('torch' in sys.modules)\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}  # the stand-in verdict stays out of the real cache
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300, env=env
    )
    assert ran.stdout.strip().splitlines()[-1] == "False", ran.stdout + ran.stderr


class _Trained:
    def state_dict(self):
        return {}


@pytest.fixture
def judged(monkeypatch):
    """_judge_reference_run with the training and the grader's check stood in for: which crops were trained, and the
    losses and check verdict each run gets by its crop (None: the reference's own)."""
    trained, losses, checks = [], {}, {}

    def train_reference(config, crop=None):
        trained.append(crop)
        return _Trained(), losses.get(None if crop is None else "other", [0.7] * 7 + [0.5] * 7)

    def training_shortfall(weights, config, mode):
        return checks.get(None if len(trained) == 1 else "other", "")

    monkeypatch.setattr(preparation, "train_reference", train_reference)
    monkeypatch.setattr("autograder.judging.verdicts.training_shortfall", training_shortfall)
    monkeypatch.setenv("UNET_GRADING_MODE", "quick")
    monkeypatch.setenv("UNET_EPOCHS", "2")
    return trained, losses, checks


def test_the_reference_run_is_judged_with_both_correct_crops_and_by_its_losses_too(judged):
    """Both runs pass: "". The reference's own crop first, then the crop taking the other middle offsets."""
    trained, _, _ = judged
    assert preparation._judge_reference_run(1) == ""
    assert trained[0] is None and callable(trained[1]) and len(trained) == 2


def test_a_correct_crops_run_whose_loss_falls_too_little_is_a_shortfall(judged):
    """The other crop's loss falls 5%: the notebook's test would fail such a student, so the verdict says so."""
    _, losses, _ = judged
    losses["other"] = [0.7] * 7 + [0.665] * 7
    said = preparation._judge_reference_run(1)
    assert said.startswith("the reference's run with its crop's upper middle offsets (as correct), its quick run fell")
    assert "the mean loss should fall by more than 10% from the first epoch to the last, it fell 5.0%" in said, said


def test_the_references_own_shortfall_is_said_first_and_the_other_crop_not_trained(judged):
    trained, _, checks = judged
    checks[None] = "held-out cross-entropy 0.650 should be below 0.6"
    said = preparation._judge_reference_run(1)
    assert said == "the reference's own quick run fell short here: held-out cross-entropy 0.650 should be below 0.6"
    assert trained == [None]


def test_the_other_correct_crop_changes_the_run_of_the_reference(tmp_path, monkeypatch):
    """The second checked run is not the first again: the crop taking the upper middle offsets, as correct as the
    reference's, ends with other weights (odd margins at 144 px, as at 256; at width 2 the
    output of a U-Net this size is nearly constant, so width 4)."""
    from autograder.judging import verdicts

    folder = write_synthetic_dataset(tmp_path / "data", n_slices=6, size=160, seed=1)
    monkeypatch.setenv("UNET_DATA_DIR", str(folder))
    monkeypatch.setenv(LOADER_ENV, "data.synthetic:load_dataset")
    config = read_config(
        {},
        epochs=2,
        hidden_channels=4,
        input_size=144,
        holdout_slices=2,
        device="cpu",
        precision="fp32",
        layout="contiguous",
    )
    own, own_losses = preparation.train_reference(config)
    other, other_losses = preparation.train_reference(config, verdicts.crop_at(*preparation.CHECKED_CROPS[1]))
    assert len(own_losses) == len(other_losses) == 2 and own_losses != other_losses
    assert not torch.equal(own.state_dict()["downfeature.conv.weight"], other.state_dict()["downfeature.conv.weight"])


def test_what_the_training_and_the_check_print_stays_off_the_childs_verdict(judged, monkeypatch, capsys):
    """The child's stdout carries only its JSON verdict: the loader prints (the synthetic stand-in says so), and so may
    the check, while the runs are judged."""

    def noisy_shortfall(weights, config, mode):
        print("Using SYNTHETIC data, not ISBI 2012")
        return ""

    monkeypatch.setattr("autograder.judging.verdicts.training_shortfall", noisy_shortfall)
    assert preparation._judge_reference_run(1) == ""
    printed = capsys.readouterr()
    assert printed.out == "" and "Using SYNTHETIC data" in printed.err
