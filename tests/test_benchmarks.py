"""Smoke tests of the benchmark scripts: tiny settings, only that they run and report every field."""

import json
import os
import subprocess
import sys

import pytest

from autograder.release.course import REPO_ROOT
from benchmarks import training_speed


def test_training_speed_reports_speed_memory_and_loss_agreement(tmp_path, capsys):
    out = tmp_path / "speed.json"
    result = training_speed.run(
        [
            "--width",
            "2",
            "--px",
            "144",
            "--steps",
            "3",
            "--block",
            "1",
            "--data",
            "synthetic",
            "--convolutions",
            "--out",
            str(out),
        ]
    )
    assert json.loads(out.read_text()) == result
    machine = result["machine"]
    assert machine["device"] == "cpu" and machine["device_name"] and machine["torch_threads"] >= 1
    assert machine["torch"] and "cpu_model" in machine
    assert set(machine["cpu_flags"]) == {"avx512_bf16", "amx_tile", "cpuinfo"}
    assert machine["precision"] in ("fp32", "bf16") and machine["layout"] in ("contiguous", "channels_last")
    assert machine["precision_reason"].startswith(f"precision {machine['precision']}, layout {machine['layout']}: ")
    loops = result["comparison"]["loops"]
    assert list(loops) == ["course", "project"]
    for entry in loops.values():
        assert len(entry["losses"]) == 3
        assert entry["steps_per_s"] > 0 and entry["peak_memory_mib"] > 0 and entry["first_steps_seconds"] > 0
    project = loops["project"]
    assert project["speedup_vs_course"] > 0
    assert project["same_batches_as_course"] is True
    agreement = project["loss_agreement_vs_course"]
    assert agreement["steps"] == 3 and agreement["first_step_abs_diff"] < 0.01
    convolutions = result["convolutions"]
    assert convolutions["layers"] == 22, "1 + 4 x 2 + 4 x 3 + 1 conv layers in the course's U-Net"
    assert convolutions["course_seconds_per_step"] > 0 and convolutions["project_seconds_per_step"] > 0
    assert convolutions["share_of_course_step"] == pytest.approx(
        convolutions["course_seconds_per_step"] / loops["course"]["seconds_per_step"]
    )
    printed = capsys.readouterr().out
    assert "steps/s" in printed and "x vs course" in printed and "loss max |diff|" in printed
    assert "convolutions alone (22 layers" in printed


def test_training_speed_fp32_project_loop_matches_the_course_loop_closely(tmp_path):
    result = training_speed.run(
        [
            "--width",
            "2",
            "--px",
            "144",
            "--steps",
            "2",
            "--block",
            "1",
            "--quiet",
            "--data",
            "synthetic",
            "--loops",
            "course,project-fp32",
            "--out",
            str(tmp_path / "fp32.json"),
        ]
    )
    agreement = result["comparison"]["loops"]["project-fp32"]["loss_agreement_vs_course"]
    assert agreement["max_abs_diff"] < 1e-4, "same weights, same batches, float32: the same losses"


def test_training_speed_forced_precisions_and_the_chosen_one(tmp_path, monkeypatch):
    monkeypatch.setenv("UNET_PRECISION", "fp32")  # what fit() would do with it set
    result = training_speed.run(
        [
            "--width",
            "2",
            "--px",
            "144",
            "--steps",
            "2",
            "--block",
            "1",
            "--quiet",
            "--data",
            "synthetic",
            "--loops",
            "course,project,project-bf16",
            "--out",
            str(tmp_path / "forced.json"),
        ]
    )
    assert result["machine"]["precision"] == "fp32"
    assert result["machine"]["precision_reason"].startswith("precision fp32, layout ")
    assert "measured against contiguous on this CPU, channels_last " in result["machine"]["precision_reason"]
    loops = result["comparison"]["loops"]
    assert loops["project"]["loss_agreement_vs_course"]["max_abs_diff"] < 1e-4, "the chosen fp32 ran"
    assert loops["project-bf16"]["loss_agreement_vs_course"]["max_abs_diff"] > 1e-6, "bf16 ran: other losses"


def test_training_speed_rejects_bad_settings():
    with pytest.raises(SystemExit):
        training_speed.parse_args(["--px", "100"])
    with pytest.raises(ValueError, match="unknown loop"):
        training_speed.run(
            [
                "--width",
                "2",
                "--px",
                "144",
                "--steps",
                "1",
                "--data",
                "synthetic",
                "--quiet",
                "--loops",
                "course,turbo",
                "--out",
                "/dev/null",
            ]
        )


@pytest.fixture(scope="module")
def small_volumes():
    from data.synthetic import make_em_volume

    return make_em_volume(n_slices=12, size=160, seed=1)


@pytest.mark.slow
def test_quality_scores_every_variant_and_writes_the_table(tmp_path, small_volumes):
    from benchmarks import quality

    out = tmp_path / "quality.json"
    result = quality.run(
        [
            "--epochs",
            "2",
            "--every",
            "1",
            "--seeds",
            "0",
            "--augment",
            "none,flips+elastic",
            "--width",
            "2",
            "--px",
            "144",
            "--out",
            str(out),
        ],
        volumes=small_volumes,
    )
    assert json.loads(out.read_text())["steps"] == result["steps"] == 4  # 7 slices: 2 steps per epoch
    assert [run["augment"] for run in result["runs"]] == ["none", "flips+elastic"]
    last = result["runs"][0]["checkpoints"][-1]
    for part in ("all", "choose", "report", "flips_all", "flips_report"):
        assert set(quality.SCORES) <= set(last[part])
    rows = [row for row in result["table"] if "scored_on" not in row]
    assert len(rows) == 2 * 2 * 2  # augmentation x checkpoint rule x test-time flips
    table = out.with_suffix(".md").read_text()
    assert "| none | last | no |" in table and "| flips+elastic | best on held-out | yes |" in table


def test_cpu_budget_reports_held_out_metrics(tmp_path, small_volumes):
    from benchmarks import cpu_budget

    out = tmp_path / "budget.json"
    result = cpu_budget.run(["--epochs", "1", "--width", "2", "--px", "144", "--out", str(out)], volumes=small_volumes)
    assert json.loads(out.read_text()) == result
    assert result["steps"] == 2 and result["train_seconds"] > 0
    for part in ("holdout", "holdout_test_time_flips", "all_interior"):
        assert {"pixel_accuracy", "v_rand", "v_info"} <= set(result[part])


# ---- the grading benchmarks (scripts/), run as their docs say, on two submissions in smoke mode ---------------------

GRADING_SCRIPTS = {
    "benchmark_grading.py": (
        ["--batch", "2", "--workers", "2", "--mode", "smoke"],
        ["per submission", "extrapolated from these 2", "training check", "totals as tests/catalogue.py expects: 2/2"],
    ),
    "benchmark_regrade.py": (
        ["--submissions", "2", "--changed", "1", "--workers", "2"],
        ["run 3 / run 1", "run 3 / run 4", "run 2 / run 1"],
    ),
    "benchmark_gradescope.py": (
        ["--mode", "smoke", "--runs", "1"],
        ["set-up (what setup.sh ends with", "run_autograder 1, one complete submission in smoke mode", "score 100"],
    ),
}


@pytest.mark.slow
@pytest.mark.stand_in_ci
@pytest.mark.parametrize("script", GRADING_SCRIPTS)
def test_the_grading_benchmarks_run_and_report_every_figure(script, data_env):
    """Each grading benchmark runs as its docstring says and prints each figure docs/benchmarks.md quotes."""
    arguments, figures = GRADING_SCRIPTS[script]
    ran = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / script), *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, **data_env},
        timeout=900,
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    missing = [figure for figure in figures if figure not in ran.stdout]
    assert missing == [], f"{script} did not print {missing}:\n{ran.stdout[-3000:]}"


def test_notebook_size_cuts_comments_and_docstrings_and_keeps_the_code():
    """benchmarks.notebook_size.compact: comments gone, a module's docstring cut to its first paragraph and a
    function's to its first sentence, the code itself unchanged."""
    from benchmarks.notebook_size import compact

    module = (
        '"""What it is.\n\nMore words.\n"""\n\n'
        "X = 1  # a comment\n\n\n"
        "def f(a):\n"
        '    """Add one. Then more\n    words.\n    """\n'
        "    # why\n"
        "    return a + X\n"
    )
    cut = compact(module, comments=False, docstrings=True)
    assert cut == '"""What it is."""\n\nX = 1\n\n\ndef f(a):\n    """Add one."""\n\n    return a + X', cut
    compile(cut, "cut", "exec")
    assert compact(module, comments=True, docstrings=False).count("#") == 2, "comments kept when asked"


def test_notebook_size_reports_the_release_and_every_variant():
    ran = subprocess.run(
        [sys.executable, "-m", "benchmarks.notebook_size"], capture_output=True, text=True, cwd=REPO_ROOT
    )
    assert ran.returncode == 0, ran.stderr
    sizes = [int(line.split()[-2].replace(",", "")) for line in ran.stdout.splitlines()[-5:]]
    assert len(sizes) == 5 and sizes == sorted(sizes, reverse=True), ran.stdout


def test_quick_bar_trains_the_catalogues_correct_unets_from_the_notebooks_start():
    """benchmarks.quick_bar measures the reference and the catalogue's correct quick-mode U-Nets, each drawn as the
    notebook's training cell draws it; the untrained U-Net fails the bar, and a forced setting is the one trained in."""
    from benchmarks import quick_bar
    from data.synthetic import make_em_volume
    from tests.catalogue import QUICK

    unets = quick_bar.correct_variants()
    assert list(unets) == ["reference", QUICK[0].name], "the faked run of QUICK is no U-Net to measure"
    volumes = make_em_volume(n_slices=6, size=256, seed=1)
    untrained = quick_bar.one_run(0, 0, volumes, unet=unets[QUICK[0].name])
    assert untrained["loss_fall"] == 0.0 and not untrained["passes"] and untrained["shortfall"]
    trained = quick_bar.one_run(1, 0, volumes, "fp32", "contiguous", unets["reference"])
    assert (trained["precision"], trained["layout"], trained["epochs"]) == ("fp32", "contiguous", 1)
    assert trained["training_seconds"] > 0 and trained["passes"] == (
        trained["loss_fall"] > 0.1 and not trained["shortfall"]
    )
