"""The limits on what comes in through each way in (a folder, an LMS zip, an nbgrader course, Gradescope),
declared once, and the bounded reading of a submitted file.

In: the sizes, counts and names of the files offered for grading (``submissions.py`` and
``integrations/lms.py`` check them as the files come in). Out: the reason a file is refused, in the words of its
row in grades.csv ("too large: 2.0 GiB, the limit is 20 MB"), or its bytes, never more than the limit.

A real submission is under 5 MB; every default below leaves room for an unusual but honest one. Each limit is
a field of ``IntakeLimits`` and an option of ``grade`` (``--notebook-bytes 50MB``; docs/security.md, "The ways
in").
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import os
import re
import stat

from autograder.options import option, whole_number

MB = 10**6
GiB = 2**30


UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def byte_size(text: str) -> int:
    """argparse type: a size such as '20MB', '2GiB', '500kB' or '1000' (bytes), at least 1 byte."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([A-Za-z]*)\s*", text)
    if not match or match[2].lower() not in UNITS:
        raise argparse.ArgumentTypeError(f"expected a size such as 20MB, 2GiB or 500kB, got {text!r}")
    value = int(float(match[1]) * UNITS[match[2].lower()])
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 byte, got {text}")
    return value


@dataclasses.dataclass(frozen=True)
class IntakeLimits:
    """What a file may be to be graded. The ``grade`` command's options (``cli.GradeOptions`` has these fields)."""

    notebook_bytes: int = option(
        20 * MB,
        "the largest notebook graded (default 20MB; a real submission is under 5MB): sizes as 20MB, 2GiB, 500kB",
        type=byte_size,
        metavar="SIZE",
    )
    zip_bytes: int = option(
        2 * GiB, "the most notebook bytes one zip may hold, uncompressed (default 2GiB)", type=byte_size, metavar="SIZE"
    )
    zip_entries: int = option(
        10_000, "the most entries one zip may hold, of every kind (default 10000)", type=whole_number, metavar="N"
    )
    zip_ratio: int = option(
        100, "the most a zip entry of 1MB or more may be compressed, N:1 (default 100)", type=whole_number, metavar="N"
    )
    name_bytes: int = option(
        255, "the longest file or folder name, in bytes of UTF-8 (default 255)", type=whole_number, metavar="N"
    )
    folder_files: int = option(
        10_000,
        "the most files and folders one folder may hold to be looked into (default "
        "10000; a folder given, 100 times that in all)",
        type=whole_number,
        metavar="N",
    )

    def limits(self) -> IntakeLimits:
        """These limits alone (of an options object that has their fields and more)."""
        return IntakeLimits(**{field.name: getattr(self, field.name) for field in dataclasses.fields(IntakeLimits)})


DEFAULT = IntakeLimits()
RATIO_FROM = 1 * MB  # smaller entries may compress as well as they like (an empty notebook)
CELLS = 10_000  # cells in one notebook (the release has about a hundred)
# JSON objects and lists in one notebook, counted as its { and [ (strings' included): 20 MB of {},{},... would
# take 0.5 GB to parse. The release has about 3000 (1.3% of its bytes); this bounds parsing to about 100 MB.
BRACKETS = 500_000


def size(count: int) -> str:
    """Bytes in words: '2.0 GiB' from one GiB up, else '20 MB', '3.5 kB', '12 bytes'."""
    if count >= GiB:
        return f"{count / GiB:.1f} GiB"
    if count >= MB:
        return f"{count / MB:.3g} MB"
    if count >= 1000:
        return f"{count / 1000:.3g} kB"
    return f"{count} bytes"


def too_large(count: int, limit: int) -> str:
    if size(count) == size(limit):  # 1001 bytes against 1000: say the bytes
        return f"too large: {count} bytes, the limit is {limit} bytes"
    return f"too large: {size(count)}, the limit is {size(limit)}"


class Refused(ValueError):
    """A file the grader will not read; str() is the reason, as the row says it."""


def special_kind(mode: int) -> str:
    """'' for a regular file, else what the file is, in words ('a symbolic link', 'a FIFO', ...)."""
    if stat.S_ISREG(mode):
        return ""
    kinds = {
        stat.S_ISLNK: "a symbolic link",
        stat.S_ISDIR: "a folder",
        stat.S_ISFIFO: "a FIFO (named pipe)",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISSOCK: "a socket",
    }
    return next((words for test, words in kinds.items() if test(mode)), "a special file")


def not_a_file(kind: str) -> str:
    return f"not a regular file: {kind}"


def name_problem(name: str, limit: int) -> str:
    """Why a file or folder name cannot be a submission's ('' when it can): not UTF-8, or too long."""
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:  # a name of undecodable bytes (os.fsdecode's escapes)
        return f"a name that is not UTF-8: {printable(name)!r}"
    if len(encoded) > limit:
        return f"a name too long: {len(encoded)} bytes, the limit is {limit}"
    return ""


def printable(name: str, length: int = 60) -> str:
    """`name` safe to print and to write as UTF-8: undecodable bytes as U+FFFD, at most `length` characters."""
    text = os.fsencode(name).decode("utf-8", "replace") if _undecodable(name) else name
    return text if len(text) <= length else text[: length - 1] + "\N{HORIZONTAL ELLIPSIS}"


def _undecodable(name):
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def read_at_most(path, limit: int) -> bytes:
    """The bytes of the regular file `path`, never more than `limit` of them read (nor a link followed, nor a
    FIFO waited on). Raises Refused (too large, not a regular file) or OSError."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        if error.errno == errno.ELOOP:  # O_NOFOLLOW on a symbolic link
            raise Refused(not_a_file("a symbolic link")) from None
        raise
    with os.fdopen(descriptor, "rb") as handle:
        mode, declared = os.fstat(descriptor).st_mode, os.fstat(descriptor).st_size
        if special_kind(mode):
            raise Refused(not_a_file(special_kind(mode)))
        if declared > limit:
            raise Refused(too_large(declared, limit))
        data = handle.read(limit + 1)  # a file that grew since: still at most limit + 1 bytes
    if len(data) > limit:
        raise Refused(too_large(max(len(data), declared), limit) + " (it grew while read)")
    return data
