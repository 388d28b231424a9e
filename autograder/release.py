"""Regenerate the student release from the one authored source notebook.

    python -m autograder release           # sync inlined modules into the source, write the release
    python -m autograder release --check   # exit 1 if either is stale (the test suite and CI run this)

Steps: (1) cells of the source whose metadata names a project module (``unet_course.inline``) get that
module's current text, so the notebook and the tested code never drift; (2) nbgrader's own
``generate_assignment`` strips solutions and hidden tests in a throwaway course folder; (3) Colab
metadata is added (GPU runtime) and the result is written atomically to ``UNet_Assignment.ipynb``.
"""
import os
import pathlib
import tempfile

import nbformat

from autograder import assignment, fingerprints
from autograder.course import ASSIGNMENT, RELEASE_NOTEBOOK, REPO_ROOT, SOURCE_NOTEBOOK, make_course, run_nbgrader

INLINE_KEY = "unet_course"
COLAB_METADATA = {"provenance": [], "gpuType": "T4", "toc_visible": True}
NOTEBOOK_METADATA = {
    "accelerator": "GPU",
    "colab": COLAB_METADATA,
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def inlined_module(cell):
    """The project path whose text this cell carries, or None."""
    return cell.get("metadata", {}).get(INLINE_KEY, {}).get("inline")


def sync_inlined_cells(notebook, repo_root=REPO_ROOT):
    """Copy each inlined module's current text into its cell; returns the paths whose cell changed."""
    changed = []
    for cell in notebook.cells:
        module = inlined_module(cell)
        if module is None:
            continue
        text = (repo_root / module).read_text().rstrip("\n")
        if cell.source != text:
            cell.source = text
            changed.append(module)
    return changed


def generate_release(source_notebook):
    """Run nbgrader generate_assignment on `source_notebook`; returns the Colab-ready release notebook."""
    with tempfile.TemporaryDirectory(prefix="unet-release-") as root:
        make_course(root, source_notebook)
        run_nbgrader(root, "generate_assignment", ASSIGNMENT, "--force", "--no-db")
        release = nbformat.read(pathlib.Path(root) / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    release.metadata = nbformat.from_dict(NOTEBOOK_METADATA)
    return release


def write_atomically(path, notebook):
    """Write a notebook through a temporary file and a rename: readers never see half a file."""
    path = pathlib.Path(path)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(nbformat.writes(notebook))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(partial, 0o666 & ~umask)                  # mkstemp makes 0600; give the usual permissions
    os.replace(partial, path)


README = REPO_ROOT / "README.md"
TABLE_START = "<!-- parts table: written by `python -m autograder release` from autograder/assignment.py -->"
TABLE_END = "<!-- end of the parts table -->"


def readme_with_parts_table(text):
    """The README's text with the parts table between its markers rewritten from the declaration."""
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    return text[:start] + "\n" + assignment.markdown_table() + "\n" + text[end:]


def sync_readme(check=False, readme=README):
    """Rewrite the README's parts table (unless `check`); returns ["README.md: parts table"] if it was stale."""
    text = readme.read_text(encoding="utf-8")
    current = readme_with_parts_table(text)
    if current == text:
        return []
    if not check:
        readme.write_text(current, encoding="utf-8")
    return [f"{_label(readme)}: parts table"]


def release(check=False, source_path=SOURCE_NOTEBOOK, release_path=RELEASE_NOTEBOOK):
    """Sync the source and regenerate the release; returns the list of stale files (written unless check)."""
    source = nbformat.read(source_path, as_version=4)
    source_label, release_label = _label(source_path), _label(release_path)
    stale = [f"{source_label}: inlined {module}" for module in sync_inlined_cells(source)]
    if release_path == RELEASE_NOTEBOOK:
        stale += sync_readme(check)
        if fingerprints.stale():
            stale.append(_label(fingerprints.PATH))
            if not check:
                fingerprints.write()
    with tempfile.TemporaryDirectory(prefix="unet-source-") as scratch:
        synced_source = pathlib.Path(scratch) / source_path.name
        write_atomically(synced_source, source)
        student = generate_release(synced_source)
    current = release_path.read_text(encoding="utf-8") if release_path.exists() else ""
    if nbformat.writes(student) != current:
        stale.append(release_label)
    if not check:
        if any(item.startswith(source_label) for item in stale):
            write_atomically(source_path, source)
        if release_label in stale:
            write_atomically(release_path, student)
    return stale


def _label(path):
    path = pathlib.Path(path).resolve()
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)
