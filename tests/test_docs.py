"""The README and the docs/ pages: the README fits one screen and says the two commands CI runs, every link between
the pages leads somewhere, and a figure copied into a page agrees with the file its command wrote."""

import json
import pathlib
import re

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
README = REPO_ROOT / "README.md"
PAGES = [README, *sorted((REPO_ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)|<a href=\"([^\"]+)\"|<img src=\"([^\"]+)\"")


def test_the_readme_is_one_screen_with_the_three_entries_and_the_two_commands():
    text = README.read_text()
    assert len(text.splitlines()) <= 120, "README.md is over 120 lines: move the detail to a page of docs/"
    for heading in ("## Students", "## Instructors", "## Graders"):
        assert heading in text
    for command in (
        "Runtime > Change runtime type > GPU",
        "unet-course release",
        "unet-course grade ",
        "bash scripts/demo.sh",
        "bash scripts/test.sh",
    ):
        assert command in text, command
    assert "bash scripts/test.sh" in (REPO_ROOT / ".ci" / "run").read_text(), "CI runs the README's test command"


@pytest.mark.parametrize("page", PAGES, ids=lambda path: path.name)
def test_every_relative_link_leads_to_a_file(page):
    for match in LINK.finditer(page.read_text()):
        target = next(group for group in match.groups() if group)
        if re.match(r"[a-z]+:", target):
            continue
        path = target.split("#")[0]
        if path:
            assert (page.parent / path).exists(), f"{page.name} links to {target}, which is not there"


def test_every_docs_page_is_listed_in_the_readme():
    text = README.read_text()
    for page in PAGES[1:]:
        assert f"](docs/{page.name})" in text, f"README.md does not list docs/{page.name}"


def test_the_short_runs_table_is_what_the_demo_measured():
    """docs/benchmarks.md copies images/metrics.json (written by `python -m lesson.demo --out images`)."""
    metrics = json.loads((REPO_ROOT / "images" / "metrics.json").read_text())
    text = (REPO_ROOT / "docs" / "benchmarks.md").read_text()
    for label, key in (
        ("pixel accuracy", "pixel_accuracy"),
        ("interior Dice", "dice"),
        ("V_rand (challenge, best threshold)", "v_rand"),
        ("V_info (challenge, best threshold)", "v_info"),
    ):
        row = f"| {label} | {metrics['holdout'][key]:.3f} | {abs(metrics['all_interior'][key]):.3f} |"
        assert row in text, f"docs/benchmarks.md disagrees with images/metrics.json: {row}"
