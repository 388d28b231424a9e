"""Read a submission and rebuild it on the release, so that nbgrader grades every test, once, as written.

This is the grader's one way to restore cells. nbgrader's own (``OverwriteCells``, which the grading worker leaves
out) restores edited locked cells from its gradebook and, with ``add_missing_cells``, re-inserts deleted test
cells, but it relies on each cell's ``nbgrader`` metadata: a notebook whose metadata an editor stripped has no
test cells at all for it, a duplicated test cell confuses it, and cell tags (``skip-execution``,
``raises-exception``) travel with the cells. So before nbgrader sees a submission, it is rebuilt:

* every cell of the release, in the release's order and with the release's metadata and source;
* in each solution cell, the student's code for that part, found by ``grade_id``, else by cell id, else as
  the cell that defines the part's name (``crop``, ``ContractingBlock``...), so stripped metadata is fine;
* after each release cell, the student's own extra cells that followed it (helpers, experiments), without
  their metadata or tags; copies of the release's cells (a duplicated test) are dropped.

The student's file itself is never written to.
"""

from __future__ import annotations

import ast
import json
import pathlib

import nbformat

from autograder.assignment import PARTS
from autograder.grading import limits as intake

# The names each solution cell defines: how a solution cell is recognised without its metadata.
PART_NAMES = {part.solution_id: part.name for part in PARTS}


class InvalidSubmission(ValueError):
    """The file is not a notebook that can be graded; str() is the short reason for the CSV."""


def read_submission(path: pathlib.Path, max_bytes: int = intake.DEFAULT.notebook_bytes) -> nbformat.NotebookNode:
    """The submission at `path` as an nbformat v4 notebook, reading at most `max_bytes` of it.

    Raises:
        InvalidSubmission: "empty file", "invalid JSON", "not a notebook", "unreadable file", or the limit it
        passes ("too large: ...", "not a regular file: ...", more cells than ``limits.CELLS`` or brackets than
        ``limits.BRACKETS``).
    """
    try:
        raw = intake.read_at_most(path, max_bytes)
    except intake.Refused as reason:
        raise InvalidSubmission(str(reason)) from None
    except OSError as error:
        raise InvalidSubmission(f"unreadable file ({error.strerror})") from None
    if not raw.strip():
        raise InvalidSubmission("empty file")
    brackets = raw.count(b"{") + raw.count(b"[")
    if brackets > intake.BRACKETS:
        raise InvalidSubmission(
            f"not a notebook: {brackets} JSON objects and lists (its {{ and [), the limit is {intake.BRACKETS}"
        )
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: [[[[... nested past Python's stack
        raise InvalidSubmission("invalid JSON") from None
    del raw
    if not isinstance(document, dict) or not isinstance(document.get("cells", document.get("worksheets")), list):
        raise InvalidSubmission("not a notebook")
    cells = len(document.get("cells", document.get("worksheets")))
    if cells > intake.CELLS:
        raise InvalidSubmission(f"not a notebook: {cells} cells, the limit is {intake.CELLS}")
    try:
        notebook = nbformat.reads(json.dumps(document), as_version=4)
        cells = [_plain_cell(cell) for cell in notebook.cells]
    except Exception:  # nbformat raises many kinds on malformed notebooks
        raise InvalidSubmission("not a notebook") from None
    # Not validated: the cells carry their original id aside (see _plain_cell) until rebuild() drops them.
    return nbformat.from_dict(
        {
            "cells": [cell for cell in cells if cell is not None],
            "metadata": dict(notebook.metadata),
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


def _plain_cell(cell):
    """A well-formed cell with only what grading needs (type, source, metadata, id), or None for junk."""
    if not isinstance(cell, dict):
        return None
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    if not isinstance(source, str):
        return None
    metadata = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
    kind = cell.get("cell_type")
    if kind == "code":
        new = nbformat.v4.new_code_cell(source)
    elif kind == "markdown":
        new = nbformat.v4.new_markdown_cell(source)
    elif kind == "raw":
        new = nbformat.v4.new_raw_cell(source)
    else:
        return None
    new.metadata = nbformat.from_dict(metadata)
    new["original_id"] = cell.get("id") or metadata.get("id")  # kept aside for matching, removed later
    return new


def grade_id(cell: dict) -> str | None:
    nbgrader = cell.get("metadata", {}).get("nbgrader")
    return nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None


def defined_parts(source: str) -> list[str]:
    """The parts (grade_ids) whose name a code cell defines at top level: `def crop`, `class UNet(...)`."""
    try:
        tree = ast.parse(_without_magics(source))
    except (SyntaxError, ValueError):
        return []
    names = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    names |= {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    return [part for part, name in PART_NAMES.items() if name in names]


def _without_magics(source):
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def rebuild(
    submitted: nbformat.NotebookNode, release: nbformat.NotebookNode
) -> tuple[nbformat.NotebookNode, list[str]]:
    """The release with the student's solutions and extra cells; returns (notebook, notes).

    `notes` lists, for the feedback, what was repaired: restored or retyped test cells, dropped copies,
    solutions found without their metadata.
    """
    by_grade_id = {grade_id(cell): cell for cell in release.cells if grade_id(cell)}
    by_cell_id = {cell.id: cell for cell in release.cells}
    by_source = {}
    for cell in release.cells:
        by_source.setdefault(_key(cell.source), cell)
    solution_ids = [grade_id(cell) for cell in release.cells if cell.metadata.get("nbgrader", {}).get("solution")]
    solutions, extras, seen, notes, dropped = {}, {None: []}, set(), [], []
    tagged = {grade_id(cell) for cell in submitted.cells if grade_id(cell) in solution_ids and cell.cell_type == "code"}
    anchor = None  # the release cell the next extra cell follows
    for cell in submitted.cells:
        match = _match(cell, by_grade_id, by_cell_id, by_source, solution_ids, solutions.keys() | tagged)
        if match is None:
            if cell.cell_type != "raw" and cell.source.strip():
                extras.setdefault(anchor, []).append(cell)
            continue
        kind, release_cell = match
        name = grade_id(release_cell) or release_cell.id
        if kind == "solution":
            if name in solutions:  # a second cell for the same part: student code
                extras.setdefault(anchor, []).append(cell)
                continue
            solutions[name] = cell.source
            for other in defined_parts(cell.source):  # one cell defining several parts
                if other != name and other not in solutions and other not in tagged:
                    solutions[other] = f"# {PART_NAMES[other]} is defined in the {PART_NAMES[name]} cell above."
            if not grade_id(cell):
                notes.append(f"the solution cell for {name} had no nbgrader metadata; it was found by its code")
        elif name in seen:
            dropped.append(name)
            continue
        elif grade_id(release_cell) and release_cell.metadata["nbgrader"].get("grade"):
            if cell.cell_type != release_cell.cell_type:
                notes.append(f"the test cell {name} had been changed to {cell.cell_type}; it was restored and run")
            elif cell.source != release_cell.source:
                notes.append(f"the test cell {name} had been edited; the original was restored and run")
        seen.add(name)
        anchor = release_cell.id
    cells = [_fresh(cell, f"student-{number}-first") for number, cell in enumerate(extras[None], start=1)]
    for release_cell in release.cells:
        name = grade_id(release_cell) or release_cell.id
        cell = nbformat.from_dict(json.loads(json.dumps(release_cell)))
        if name in solution_ids:
            cell.source = solutions.get(name, release_cell.source)
        elif release_cell.metadata.get("nbgrader", {}).get("grade") and name not in seen:
            notes.append(f"the test cell {name} was missing; it was restored and run")
        cells.append(cell)
        cells += [
            _fresh(extra, f"student-{number}-after-{release_cell.id}")
            for number, extra in enumerate(extras.get(release_cell.id, []), start=1)
        ]
    if dropped:
        notes.append(dropped_copies(dropped))
    notebook = nbformat.v4.new_notebook(cells=cells, metadata=json.loads(json.dumps(release.metadata)))
    nbformat.validate(notebook)
    return notebook, notes


def dropped_copies(names: list[str]) -> str:
    """One note for every dropped copy of a cell: how many, and of which cells (`names`: one per copy)."""
    counts = {name: names.count(name) for name in dict.fromkeys(names)}
    if len(counts) == 1:
        return (
            f"a copy of the cell {names[0]} was dropped"
            if len(names) == 1
            else f"{len(names)} copies of the cell {names[0]} were dropped"
        )
    listed = ", ".join(f"{name} ({count})" for name, count in counts.items())
    return f"{len(names)} copies of {len(counts)} cells were dropped: {listed}"


def _match(cell, by_grade_id, by_cell_id, by_source, solution_ids, taken):
    """("solution" or "release", the release cell) this submitted cell stands for, or None for student code.

    `taken`: parts whose solution is already placed or carried by a cell with its metadata; a cell without
    metadata that defines one of the others is taken as that part's solution.
    """
    release_cell = by_grade_id.get(grade_id(cell)) or by_cell_id.get(cell.get("original_id") or "")
    if release_cell is None and _key(cell.source) in by_source:
        release_cell = by_source[_key(cell.source)]
    if release_cell is None and cell.cell_type == "code" and grade_id(cell) not in by_grade_id:
        parts = [part for part in defined_parts(cell.source) if part not in taken]
        if parts:
            release_cell = next(c for c in by_grade_id.values() if grade_id(c) == parts[0])
    if release_cell is None:
        return None
    if grade_id(release_cell) in solution_ids:
        if cell.cell_type != "code":
            return None  # a solution retyped to markdown runs nothing
        return "solution", release_cell
    return "release", release_cell


def _key(source):
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _fresh(cell, cell_id):
    """A student's extra cell: its source and type only (no tags, no nbgrader metadata, no outputs).

    Its id says where it is ("student-1-after-crop-solution"): the grader's status names cells by id.
    """
    maker = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell}[cell.cell_type]
    return maker(cell.source, id=cell_id)
