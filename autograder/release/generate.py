"""Regenerate the student release from the one authored source notebook.

    unet-course release           # sync inlined modules into the source, write the release
    unet-course release --check   # exit 1 if either is stale (the test suite and CI run this)
    unet-course release --repo OWNER/NAME [--branch B]   # the Colab link of another repository

Steps: (1) cells of the source whose metadata names a project module (``unet_course.inline``) get that
module's current text (without its imports of the project's packages: ``lesson/carried.py``), and the cell that
names the fingerprints' store gets the visible tests' prints, packed (``judging/fingerprints.py``), so the notebook
and the tested code never drift; cells whose metadata has a ``unet_course.title`` (the carried modules and the
set-up cell: machinery, not the lesson) are collapsed, with ``#@title <title>`` as their first line and the
metadata that hides their code by default in Colab (``cellView: form``) and in Jupyter
(``jupyter.source_hidden``), one click away; (2) nbgrader's own ``generate_assignment`` strips solutions and
hidden tests in a throwaway course folder; (3) Colab
metadata is added (GPU runtime), the Colab link is set, and the result is written atomically to
``UNet_Assignment.ipynb``.

The Colab link ("Open in Colab" in the notebook's title cell and the README's badge) opens the release from the
instructor's own GitHub repository: ``--repo OWNER/NAME`` and ``--branch``, by default the repository of the
clone's ``origin`` remote (https or ssh) and its default branch, else ``unet-course/unet-isbi2012`` and ``main``.
``--check`` compares with the same setting.
"""

from __future__ import annotations

import copy
import os
import pathlib
import re
import subprocess
import tempfile

import nbformat

from autograder import assignment
from autograder.judging import fingerprints
from autograder.release.course import (
    ASSIGNMENT,
    RELEASE_NOTEBOOK,
    REPO_ROOT,
    SOURCE_NOTEBOOK,
    make_course,
    run_nbgrader,
)
from autograder.reports.report import write_atomically as write_text_atomically
from lesson.carried import carried_text

INLINE_KEY = "unet_course"
DEFAULT_REPO, DEFAULT_BRANCH = "unet-course/unet-isbi2012", "main"
REPO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+")
# https://github.com/OWNER/NAME(.git), https://user@github.com/..., ssh://git@github.com(:22)/..., git@github.com:...
GITHUB_REMOTE = re.compile(
    r"(?:https?://(?:[^@/\s]+@)?github\.com/|ssh://git@github\.com(?::\d+)?/|git@github\.com:)"
    r"(?P<repo>[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+?)(?:\.git)?/?"
)
COLAB_LINK = re.compile(
    r"https://colab\.research\.google\.com/github/[^\s\"'<>()]+?/blob/[^\s\"'<>()]+?/"
    + re.escape(RELEASE_NOTEBOOK.name)
)
COLAB_METADATA = {"provenance": [], "gpuType": "T4", "toc_visible": True}
NOTEBOOK_METADATA = {
    "accelerator": "GPU",
    "colab": COLAB_METADATA,
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


STORE = "autograder/judging/fingerprints.json"  # a cell that names it carries the visible tests' prints, packed
TITLE_PREFIX = "#@title "
SETUP_CELL = "setup"  # the cell id of the set-up cell (pip and imports): machinery too


def inlined_module(cell: dict) -> str | None:
    """The project path whose text this cell carries, or None."""
    return cell.get("metadata", {}).get(INLINE_KEY, {}).get("inline")


def collapse_title(cell: dict) -> str | None:
    """The title of a cell that the release collapses (``unet_course.title``), or None."""
    return cell.get("metadata", {}).get(INLINE_KEY, {}).get("title")


def is_machinery(cell: dict) -> bool:
    """True for the cells that run the lesson rather than teach it: the carried modules and the set-up cell."""
    return inlined_module(cell) is not None or cell.get("id") == SETUP_CELL


def is_hidden_by_default(cell: dict) -> bool:
    """True when both Colab and Jupyter show the cell collapsed: a ``#@title`` line, Colab's form view and
    Jupyter's hidden source."""
    metadata = cell.get("metadata", {})
    return (
        cell.get("source", "").startswith(TITLE_PREFIX)
        and metadata.get("cellView") == "form"
        and metadata.get("colab", {}).get("cellView") == "form"
        and metadata.get("jupyter", {}).get("source_hidden") is True
    )


def collapse(cell: dict, title: str) -> None:
    """Make `cell` open collapsed: ``#@title <title>`` first, then the code, hidden one click away.

    Colab shows a code cell whose first line is ``#@title`` and whose metadata has ``cellView: form`` as its
    title alone (Colab itself writes ``cellView`` at the top of the cell's metadata; it is also set in the
    cell's ``colab`` metadata); JupyterLab and Jupyter Notebook 7 hide the code of a cell whose metadata has
    ``jupyter.source_hidden``. The code still runs with Run all.
    """
    cell.source = f"{TITLE_PREFIX}{title}\n{_without_title(cell.source)}"
    cell.metadata["cellView"] = "form"
    cell.metadata.setdefault("colab", {})["cellView"] = "form"
    cell.metadata.setdefault("jupyter", {})["source_hidden"] = True


def _without_title(source: str) -> str:
    return source.split("\n", 1)[1] if source.startswith(TITLE_PREFIX) and "\n" in source else source


def sync_inlined_cells(notebook: nbformat.NotebookNode, repo_root: pathlib.Path = REPO_ROOT) -> list[str]:
    """Copy each inlined module's current text (or the visible tests' prints) into its cell and collapse the cells
    that have a title.

    A module's imports of the project's packages are left out (``lesson/carried.py``): in the notebook, the cells
    carry those names.

    Returns what changed, e.g. ["inlined lesson/config.py", "collapsed setup"].
    """
    changed = []
    for cell in notebook.cells:
        module, title = inlined_module(cell), collapse_title(cell)
        if module is None and title is None:
            continue
        before = copy.deepcopy(cell)
        if module == STORE:
            cell.source = fingerprints.notebook_text(_without_title(cell.source))
        elif module is not None:
            cell.source = carried_text(repo_root / module).rstrip("\n")
        if title is not None:
            collapse(cell, title)
        if cell.source != before.source or cell.metadata != before.metadata:
            changed.append(f"inlined {module}" if module is not None else f"collapsed {cell.get('id')}")
    return changed


def machinery_share(notebook: nbformat.NotebookNode) -> tuple[int, int]:
    """(machinery lines, all lines) of the code a student sees by default, cell lines as written.

    Only code cells that are not collapsed (``is_hidden_by_default``) count; of them, the carried modules
    and the set-up cell are machinery. The release on main before collapsing: 1,094 of 1,309 (84%).
    """
    visible = [cell for cell in notebook.cells if cell.cell_type == "code" and not is_hidden_by_default(cell)]
    lines = [(len(cell.source.splitlines()), is_machinery(cell)) for cell in visible]
    return sum(count for count, machinery in lines if machinery), sum(count for count, _ in lines)


def github_repo(remote_url: str) -> str | None:
    """OWNER/NAME of a GitHub remote URL (https or ssh forms, with or without .git), or None for other hosts."""
    match = GITHUB_REMOTE.fullmatch(remote_url.strip())
    return match["repo"] if match else None


def _git(repo_root: pathlib.Path, *args: str) -> str | None:
    try:
        result = subprocess.run(["git", "-C", str(repo_root), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def remote_setting(repo_root: pathlib.Path = REPO_ROOT) -> tuple[str, str]:
    """(OWNER/NAME, branch) of the clone's GitHub remote `origin`, else (DEFAULT_REPO, DEFAULT_BRANCH).

    The branch is the remote's default branch when the clone knows it (``origin/HEAD``), else ``main``.
    """
    repo = github_repo(_git(repo_root, "remote", "get-url", "origin") or "")
    if repo is None:
        return DEFAULT_REPO, DEFAULT_BRANCH
    head = _git(repo_root, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD") or ""
    return repo, head.removeprefix("origin/") or DEFAULT_BRANCH


def colab_url(repo: str, branch: str) -> str:
    """The link that opens the release of `repo` at `branch` in Colab."""
    if not REPO_NAME.fullmatch(repo):
        raise ValueError(f"the repository must be OWNER/NAME as on GitHub, got {repo!r}")
    if not branch or re.search(r"[\s\"'<>()]", branch):
        raise ValueError(f"not a branch name: {branch!r}")
    return f"https://colab.research.google.com/github/{repo}/blob/{branch}/{RELEASE_NOTEBOOK.name}"


def set_colab_links(text: str, url: str) -> str:
    """`text` with every Colab link to the release replaced by `url`."""
    return COLAB_LINK.sub(lambda _: url, text)


def generate_release(source_notebook: pathlib.Path) -> nbformat.NotebookNode:
    """Run nbgrader generate_assignment on `source_notebook`; returns the Colab-ready release notebook."""
    with tempfile.TemporaryDirectory(prefix="unet-release-") as root:
        make_course(root, source_notebook)
        run_nbgrader(root, "generate_assignment", ASSIGNMENT, "--force", "--no-db")
        release = nbformat.read(pathlib.Path(root) / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    release.metadata = nbformat.from_dict(NOTEBOOK_METADATA)
    return release


def write_atomically(path: str | os.PathLike, notebook: nbformat.NotebookNode) -> None:
    """Write a notebook through a temporary file and a rename: readers never see half a file."""
    write_text_atomically(path, nbformat.writes(notebook))


README = REPO_ROOT / "README.md"
PARTS_PAGE = REPO_ROOT / "docs" / "instructors.md"  # the parts table's one place
TABLE_START = "<!-- parts table: written by `unet-course release` from autograder/assignment.py -->"
TABLE_END = "<!-- end of the parts table -->"


def with_parts_table(text: str) -> str:
    """The page's text with the parts table between its markers rewritten from the declaration."""
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    return text[:start] + "\n" + assignment.markdown_table() + "\n" + text[end:]


def sync_parts_table(check: bool = False, page: pathlib.Path = PARTS_PAGE) -> list[str]:
    """Rewrite the parts table of `page` (unless `check`); returns ["docs/instructors.md: parts table"] if it
    was stale."""
    text = page.read_text(encoding="utf-8")
    current = with_parts_table(text)
    if current == text:
        return []
    if not check:
        write_text_atomically(page, current)
    return [f"{_label(page)}: parts table"]


def release(
    check: bool = False,
    source_path: pathlib.Path = SOURCE_NOTEBOOK,
    release_path: pathlib.Path = RELEASE_NOTEBOOK,
    repo: str | None = None,
    branch: str | None = None,
    readme_path: pathlib.Path | None = README,
    parts_page: pathlib.Path | None = PARTS_PAGE,
) -> list[str]:
    """Sync the source and regenerate the release; returns the list of stale files (written unless check).

    `repo` and `branch` set the Colab link of the release and of the README at `readme_path` (None: no README);
    by default they come from ``remote_setting()``. `parts_page` holds the parts table (None: none).
    """
    default_repo, default_branch = remote_setting()
    url = colab_url(repo or default_repo, branch or default_branch)
    stale = []
    if release_path == RELEASE_NOTEBOOK and fingerprints.stale():  # the hidden checks' and the visible tests'
        stale.append(f"{_label(fingerprints.PATH)}: fingerprints")
        if not check:
            write_text_atomically(fingerprints.PATH, fingerprints.render(fingerprints.compute()))
            fingerprints.stored.cache_clear()
    source, student, changes = release_notebooks(source_path, url)
    source_label, release_label = _label(source_path), _label(release_path)
    stale += [f"{source_label}: {change}" for change in changes]
    if parts_page is not None:
        stale += sync_parts_table(check, parts_page)
    current = release_path.read_text(encoding="utf-8") if release_path.exists() else ""
    if nbformat.writes(student) != current:
        stale.append(release_label)
    readme = readme_path.read_text(encoding="utf-8") if readme_path is not None and readme_path.exists() else None
    if readme is not None and set_colab_links(readme, url) != readme:
        stale.append(f"{_label(readme_path)}: Colab badge")
    if not check:
        if any(item.startswith(source_label) for item in stale):
            write_atomically(source_path, source)
        if release_label in stale:
            write_atomically(release_path, student)
        if readme is not None and set_colab_links(readme, url) != readme:
            write_text_atomically(readme_path, set_colab_links(readme, url))
    return stale


def release_notebooks(
    source_path: pathlib.Path, url: str
) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode, list[str]]:
    """(the synced source, the student release with its Colab links set to `url`, what syncing changed)."""
    source = nbformat.read(source_path, as_version=4)
    changes = sync_inlined_cells(source)
    with tempfile.TemporaryDirectory(prefix="unet-source-") as scratch:
        synced_source = pathlib.Path(scratch) / source_path.name
        write_atomically(synced_source, source)
        student = generate_release(synced_source)
    for cell in student.cells:
        if cell.cell_type == "markdown":
            cell.source = set_colab_links(cell.source, url)
    return source, student, changes


def _label(path: str | os.PathLike) -> str:
    path = pathlib.Path(path).resolve()
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)
