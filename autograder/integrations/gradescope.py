"""A Gradescope autograder bundle, and the results.json of a graded submission.

    python -m autograder gradescope --out autograder.zip [--training-visibility after_due_date] [--mode quick]

The bundle follows Gradescope's autograder specification
(https://gradescope-autograders.readthedocs.io/en/latest/specs/): ``setup.sh`` and ``run_autograder`` at the
root of the zip (rendered from the Jinja2 templates ``templates/gradescope/*.j2`` beside this module), the rest
unpacked into ``/autograder/source``. ``setup.sh`` (run once on Gradescope's Ubuntu
image) installs Python and ``requirements.txt`` (PyTorch's CPU build) and checks the ISBI 2012 data the bundle
carries (``source/isbi2012/``: the three volumes of UNET_DATA_DIR, verified when the bundle is made); a bundle
made without UNET_DATA_DIR carries none, and setup.sh downloads and verifies it there (``data/isbi2012.py``: pinned
SHA-256 of the pixels); last, it makes what every submission's grading shares once (``setup()``): the course
template (nbgrader's generated assignment and gradebook, the reference's answers) in ``source/course-template``
and the CPU's precision and layout, cached. ``run_autograder`` grades ``/autograder/submission/*.ipynb`` (the
newest, when there are several) with ``python -m autograder grade --template source/course-template`` in quick
mode (Gradescope's machines have no GPU; the results say so) and the sandbox where the container allows it (the
submission's files found and checked within the limits of ``grading/limits.py``: a link, a special file or a
notebook too large gets a zero with the reason), then writes ``/autograder/results/results.json``:

* ``tests``: one entry per test of ``autograder/assignment.py`` with its ``score`` and ``max_score``, ``status``
  passed or failed, and as ``output`` what the hidden check asks, in its words, and the known mistake the
  student's numbers match; the training test's ``visibility`` is the bundle's ``--training-visibility``
  (``visible`` by default; ``after_due_date`` or ``after_published`` hide its result until then);
* ``score``: the total; ``output``: the grading report's text (mode, status, points per part); the full HTML
  report is not shown by Gradescope, so the text says what it holds.

``AUTOGRADER_ROOT`` stands for ``/autograder`` (the tests unpack the bundle into a temporary folder).
``python -m autograder.integrations.gradescope run`` is what ``run_autograder`` calls.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import zipfile

from autograder import assignment
from autograder.release.course import REPO_ROOT
from autograder.reports.report import read_rows, write_atomically
from autograder.reports.templating import render

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
CARRIED = ("autograder", "lesson", "data", "solutions", "UNet_Assignment.ipynb", "requirements.txt")
DATA_FOLDER = "isbi2012"
TEMPLATE_FOLDER = "course-template"  # made once by setup.sh (setup()), copied for each submission
TEMPLATES = pathlib.Path(__file__).parent / "templates" / "gradescope"  # setup.sh.j2, run_autograder.j2
SCRIPTS = ("setup.sh", "run_autograder")
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"  # PyTorch's CPU builds
# results.json as Gradescope's specification documents it (the fields this grader writes, and the others, typed).
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number", "minimum": 0},
        "output": {"type": "string"},
        "output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
        "test_output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
        "test_name_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
        "visibility": {"enum": list(VISIBILITIES)},
        "stdout_visibility": {"enum": list(VISIBILITIES)},
        "extra_data": {"type": "object"},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "score": {"type": "number"},
                    "max_score": {"type": "number"},
                    "status": {"enum": ["passed", "failed"]},
                    "name": {"type": "string"},
                    "name_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
                    "number": {"type": "string"},
                    "output": {"type": "string"},
                    "output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "visibility": {"enum": list(VISIBILITIES)},
                    "extra_data": {"type": "object"},
                },
                "required": ["max_score"],
            },
        },
        "leaderboard": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "value": {"type": ["number", "string"]},
                    "order": {"enum": ["asc", "desc"]},
                },
                "required": ["name", "value"],
            },
        },
    },
    "anyOf": [
        {"required": ["score"]},
        {"required": ["tests"], "properties": {"tests": {"items": {"required": ["score"]}}}},
    ],
}


def validate(results: dict) -> None:
    """Raise jsonschema.ValidationError unless `results` is a results.json Gradescope's specification allows."""
    import jsonschema

    jsonschema.validate(results, SCHEMA)


def results_from(
    out: pathlib.Path, student: str, training_visibility: str = "visible", execution_time: float | None = None
) -> dict:
    """results.json of `student` from a graded batch folder `out` (grades.csv, mistakes.csv)."""
    out = pathlib.Path(out)
    (row,) = read_rows(out / "grades.csv", student)
    mistakes = read_rows(out / "mistakes.csv", student)
    tests = []
    for number, (grade_id, test) in enumerate(assignment.tests().items(), start=1):
        score = float(row[grade_id])
        part = assignment.part_of(grade_id)
        found = [entry for entry in mistakes if part is not None and entry["part"] == part.name]
        named = [entry["mistake"] for entry in found if entry["kind"] == "named"]
        located = [entry["mistake"] for entry in found if entry["kind"] == "located"]
        words = [f"What it checks: {test.asks}"] if test.asks else []
        if score < test.points and named:
            words.append("Your results match a known mistake: " + "; ".join(named))
        if score < test.points and located:
            words.append("Where it goes wrong: " + "; ".join(located) + " (the report says more)")
        tests.append(
            {
                "name": grade_id,
                "number": str(number),
                "score": score,
                "max_score": float(test.points),
                "status": "passed" if score >= test.points else "failed",
                "output": "\n".join(words),
                "tags": [part.name if part else "training"],
                "visibility": training_visibility if grade_id == assignment.TRAINING.grade_id else "visible",
            }
        )
    results = {
        "score": float(row["total"]),
        "output": report_text(row, tests),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"mode": row["mode"], "status": row["status"]},
    }
    if execution_time is not None:
        results["execution_time"] = round(execution_time)
    return results


def report_text(row: dict, tests: list[dict]) -> str:
    """The report's first lines: mode (no GPU here), status, and points per part."""
    from autograder.grading.grade import MODES

    lines = [
        f"{row['total']}/{row['max_total']} points, graded in {row['mode']} mode: Gradescope's machines have "
        f"no GPU, so the training test runs the short CPU recipe.",
        MODES[row["mode"]].description,
        f"Status: {row['status']}.",
        "",
    ]
    for part in [*assignment.PARTS, None]:
        ids = [test.grade_id for test in part.tests] if part else [assignment.TRAINING.grade_id]
        got = sum(test["score"] for test in tests if test["name"] in ids)
        full = sum(test["max_score"] for test in tests if test["name"] in ids)
        lines.append(f"{part.name if part else 'training'}: {got:g}/{full:g}")
    return "\n".join(lines)


def make_bundle(
    out: pathlib.Path, mode: str = "quick", training_visibility: str = "visible", data_dir: pathlib.Path | None = None
) -> list[str]:
    """Write the bundle zip `out` (atomically); returns what it holds, in words."""
    out = pathlib.Path(out)
    files = _tracked(CARRIED)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for script in SCRIPTS:
            _add(bundle, script, script_text(script), 0o755)
        _add(bundle, "settings.json", json.dumps({"mode": mode, "training_visibility": training_visibility}), 0o644)
        for relative in files:
            bundle.write(REPO_ROOT / relative, relative)
        carried = _data_files(data_dir)
        for path in carried:
            bundle.write(path, f"{DATA_FOLDER}/{path.name}")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, buffer.getvalue())
    return [
        f"{len(files)} files of the grader",
        f"the data ({len(carried)} volumes)" if carried else "no data (setup.sh downloads and verifies it)",
        f"{mode} mode, training test {training_visibility}",
    ]


def script_text(name: str) -> str:
    """The bundle's script `name` (setup.sh, run_autograder), rendered from its template in templates/gradescope/."""
    return render(
        TEMPLATES,
        f"{name}.j2",
        data_folder=DATA_FOLDER,
        torch_index=TORCH_INDEX,
        requirements="requirements.txt",
        module="autograder.integrations.gradescope",
    )


def _tracked(paths) -> list[str]:
    listed = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "ls-files", "--cached", "--others", "--exclude-standard", *paths],
        capture_output=True,
        text=True,
    )
    if listed.returncode == 0 and listed.stdout.strip():
        return [line for line in listed.stdout.splitlines() if (REPO_ROOT / line).is_file()]
    return sorted(
        str(path.relative_to(REPO_ROOT))
        for name in paths
        for path in ([REPO_ROOT / name] if (REPO_ROOT / name).is_file() else (REPO_ROOT / name).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    )


def _data_files(data_dir) -> list[pathlib.Path]:
    """The three volumes of `data_dir` or UNET_DATA_DIR when their pixels are the real data's, else []."""
    from data.isbi2012 import VOLUMES

    for folder in [data_dir, os.environ.get("UNET_DATA_DIR")]:
        if folder and all((pathlib.Path(folder) / f"{name}.tif").exists() for name in VOLUMES):
            try:
                from data.isbi2012 import load_isbi2012

                load_isbi2012(data_dir=pathlib.Path(folder))  # verified, else not carried
            except Exception:  # a synthetic stand-in, or damaged files
                return []
            return [pathlib.Path(folder) / f"{name}.tif" for name in VOLUMES]
    return []


def _add(bundle, name, text, mode):
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    bundle.writestr(info, text)


def run(root: pathlib.Path) -> int:
    """Grade the submission under `root`/submission into `root`/results/results.json (what run_autograder does)."""
    import time

    started = time.monotonic()
    settings = json.loads((root / "source" / "settings.json").read_text())
    results_folder = root / "results"
    results_folder.mkdir(parents=True, exist_ok=True)
    notebooks = sorted(submitted_notebooks(root / "submission"), key=lambda path: (path.lstat().st_mtime, path.name))
    if not notebooks:
        results = {
            "score": 0.0,
            "output": "No .ipynb file was submitted: upload your notebook (in Colab: File > "
            "Download > Download .ipynb).",
            "visibility": "visible",
        }
    else:
        with tempfile.TemporaryDirectory(prefix="gradescope-") as scratch:
            graded = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "autograder",
                    "grade",
                    str(notebooks[-1]),
                    "--out",
                    scratch,
                    "--mode",
                    settings["mode"],
                    "--template",
                    str(root / "source" / TEMPLATE_FOLDER),
                ],
                text=True,
            )
            if graded.returncode != 0:
                results = {
                    "score": 0.0,
                    "output": "The grader could not run; your instructor has its log.",
                    "visibility": "visible",
                }
            else:
                student = read_rows(pathlib.Path(scratch) / "grades.csv")[0]["student"]
                results = results_from(
                    pathlib.Path(scratch), student, settings["training_visibility"], time.monotonic() - started
                )
                if len(notebooks) > 1:
                    results["output"] += (
                        f"\n\n{len(notebooks)} notebooks were submitted; the newest was graded: {notebooks[-1].name}."
                    )
    validate(results)
    write_atomically(results_folder / "results.json", json.dumps(results, indent=1))
    return 0


def submitted_notebooks(folder: pathlib.Path) -> list[pathlib.Path]:
    """The .ipynb files of a Gradescope submission, found within the limits of ``grading/limits.py`` (a folder
    full of files is not looked into; links and special files are found, and the grader refuses them)."""
    from autograder.grading.submissions import UsageError, find_files

    try:
        found, _ = find_files([folder])
    except UsageError:  # no notebook, or no folder
        return []
    return [path for path in found if path.name.endswith(".ipynb") and os.path.lexists(path)]


def setup(root: pathlib.Path) -> int:
    """What setup.sh does once, for every submission after: the course template in `root`/source/TEMPLATE_FOLDER
    (template.prepared_template) and the kernels' precision and layout, measured, with the reference's quick
    runs judged in them (``grading/calibration.py``), both kept in the image's cache."""
    from autograder.grading import grade
    from autograder.grading.template import prepared_template

    settings = json.loads((root / "source" / "settings.json").read_text())
    prepared_template(root / "source" / TEMPLATE_FOLDER)
    print(grade.Session(settings["mode"], os.cpu_count() or 1).precision()[2])  # why: as `grade` at one worker
    return 0


if __name__ == "__main__":
    actions = {"run": run, "setup": setup}
    if sys.argv[1:2] not in ([name] for name in actions) or len(sys.argv) != 2:
        sys.exit(
            "usage: python -m autograder.integrations.gradescope run|setup  (what run_autograder and setup.sh call)"
        )
    sys.exit(actions[sys.argv[1]](pathlib.Path(os.environ.get("AUTOGRADER_ROOT", "/autograder"))))
