"""Smoke tests of the benchmark scripts: tiny settings, only that they run and report every field."""
import json

import pytest

from benchmarks import training_speed


def test_training_speed_reports_speed_memory_and_loss_agreement(tmp_path, capsys):
    out = tmp_path / "speed.json"
    result = training_speed.run(["--width", "2", "--px", "144", "--steps", "3", "--block", "1",
                                 "--data", "synthetic", "--out", str(out)])
    assert json.loads(out.read_text()) == result
    machine = result["machine"]
    assert machine["device"] == "cpu" and machine["device_name"] and machine["torch_threads"] >= 1
    assert machine["torch"] and "cpu_model" in machine
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
    printed = capsys.readouterr().out
    assert "steps/s" in printed and "x vs course" in printed and "loss max |diff|" in printed


def test_training_speed_fp32_project_loop_matches_the_course_loop_closely(tmp_path):
    result = training_speed.run(["--width", "2", "--px", "144", "--steps", "2", "--block", "1", "--quiet",
                                 "--data", "synthetic", "--loops", "course,project-fp32", "--out",
                                 str(tmp_path / "fp32.json")])
    agreement = result["comparison"]["loops"]["project-fp32"]["loss_agreement_vs_course"]
    assert agreement["max_abs_diff"] < 1e-4, "same weights, same batches, float32: the same losses"


def test_training_speed_rejects_bad_settings():
    with pytest.raises(SystemExit):
        training_speed.parse_args(["--px", "100"])
    with pytest.raises(ValueError, match="unknown loop"):
        training_speed.run(["--width", "2", "--px", "144", "--steps", "1", "--data", "synthetic", "--quiet",
                            "--loops", "course,turbo", "--out", "/dev/null"])
