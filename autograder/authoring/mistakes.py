"""The mistake library: the common mistakes of each part, so that feedback can name the likely one.

The mistakes are listed in ``mistakes.toml``, each an edit of the reference solution (the source notebook's
solution cell of its part). The
grader runs a failed test's check on every mistake of the test's part, as on the reference, and compares
fingerprints (``judging/fingerprints.py``): a mistake whose fingerprint matches the student's answer is named, with
what the specification asks instead. ``python -m autograder release`` writes the fingerprints of the
specification and of every mistake into ``autograder/judging/fingerprints.json``.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
from typing import Callable

import tomllib


@dataclasses.dataclass(frozen=True)
class Mistake:
    part: str  # the part's name: "crop", "ContractingBlock", ...
    name: str  # in words, as the feedback names it
    instead: str  # what the specification asks instead
    edit: Callable[[str], str]  # the reference solution cell's source -> the mistaken source


def replace(*pairs: str) -> Callable[[str], str]:
    """An edit replacing each `old` by its `new` (pairs: old, new, old, new, ...); each `old` must occur."""

    def edit(source: str) -> str:
        for old, new in zip(pairs[::2], pairs[1::2]):
            if old not in source:
                raise ValueError(f"the reference solution no longer contains {old!r}")
            source = source.replace(old, new)
        return source

    return edit


def in_body(old: str, new: str) -> Callable[[str], str]:
    """An edit replacing the word `old` by `new` inside the solution regions only (not in the signature)."""

    def edit(source: str) -> str:
        regions = re.compile(r"(### BEGIN SOLUTION\n)(.*?)(### END SOLUTION)", re.S)
        edited = regions.sub(lambda m: m[1] + re.sub(rf"\b{old}\b", new, m[2]) + m[3], source)
        if edited == source:
            raise ValueError(f"the reference solution's body no longer contains {old!r}")
        return edited

    return edit


TABLE = pathlib.Path(__file__).with_name("mistakes.toml")


def read(path: pathlib.Path = TABLE) -> tuple[Mistake, ...]:
    """The mistakes listed in the table (mistakes.toml), each with its edit."""
    with open(path, "rb") as handle:
        rows = tomllib.load(handle)["mistake"]
    return tuple(
        Mistake(
            row["part"],
            row["name"],
            row["instead"],
            replace(*(text for pair in row["replace"] for text in pair)) if "replace" in row else in_body(*row["word"]),
        )
        for row in rows
    )


MISTAKES = read()


def of_part(part: str) -> tuple[Mistake, ...]:
    return tuple(mistake for mistake in MISTAKES if mistake.part == part)
