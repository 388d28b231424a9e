"""The GPU acceptance run (scripts/gpu_check.sh), run here in its tiny configuration on CPU so that it cannot rot."""

import json
import os
import subprocess

import pytest

from autograder.release.course import REPO_ROOT
from benchmarks import gpu_check


@pytest.mark.slow
@pytest.mark.real_ci
def test_gpu_check_tiny_runs_every_step_and_passes(data_env, tmp_path):
    out = tmp_path / "gpu-check.json"
    done = subprocess.run(
        ["bash", "scripts/gpu_check.sh", "--tiny", "--out", str(out)],
        cwd=REPO_ROOT,
        env={**os.environ, **data_env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(done.stdout[-4000:], done.stderr[-4000:])
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["passed"] and result["tiny"]
    assert list(result["steps"]) == ["recipe", "loops", "scores", "notebook", "grading"]
    assert all(step["status"] == "ok" for step in result["steps"].values())
    assert set(result["checks"]) >= {
        "recipe losses finite",
        "held-out scores computed",
        "notebook ran without errors",
        "grades of reference",
        "grades of skip_wiring",
        "grades of blank_release",
    }
    rows = result["steps"]["grading"]["rows"]
    assert float(rows["reference"]["total"]) == 100 and float(rows["blank_release"]["total"]) == 0
    assert 0 < float(rows["skip_wiring"]["total"]) < 100
    scores = result["steps"]["scores"]
    assert {"plain", "flips", "all_interior"} <= set(scores)
    assert result["machine"]["precision"] and "cpu_flags" in result["machine"]
    assert "[5/5] grading three submissions in smoke mode" in done.stdout
    summary = out.with_suffix(".md").read_text()
    assert "all checks passed" in summary and "| grades of skip_wiring | pass" in summary


def test_gpu_check_refuses_to_run_the_real_check_without_a_gpu(monkeypatch):
    monkeypatch.setattr(gpu_check.torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit, match="PyTorch sees no GPU"):
        gpu_check.run([])


def test_a_failed_check_fails_the_run():
    check = gpu_check.Check()
    with check.step("recipe", "a step that breaks"):
        raise ValueError("broken")
    assert not check.passed and check.steps["recipe"]["status"] == "error: ValueError: broken"
    check = gpu_check.Check()
    check.expect("fine", True)
    assert check.passed
    check.expect("grades of reference", False, "total 85")
    assert not check.passed
