"""The limits on what comes in through each way in (a folder, an LMS zip, an nbgrader course, Gradescope),
declared once, and the bounded reading of a submitted file.

In: the sizes, counts and names of the files offered for grading (``submissions.py`` and
``integrations/lms.py`` check them as the files come in). Out: the reason a file is refused, in the words of its
row in grades.csv ("too large: 2.0 GiB, the limit is 20 MB"), or its bytes, never more than the limit.

A real submission is under 5 MB; every default below leaves room for an unusual but honest one. Each limit is
a field of ``IntakeLimits``, a setting of the command line (docs/security.md, "The ways in").
"""
from __future__ import annotations

import dataclasses
import errno
import os
import stat

MB = 10**6
GiB = 2**30


@dataclasses.dataclass(frozen=True)
class IntakeLimits:
    notebook_bytes: int = 20 * MB       # one submitted file
    zip_bytes: int = 2 * GiB            # a zip's notebooks altogether, uncompressed (what is extracted)
    zip_entries: int = 10_000           # entries in a zip's directory, of every kind
    zip_ratio: int = 100                # an entry's uncompressed size over its compressed size (from 1 MB up)
    name_bytes: int = 255               # a file or folder name (UTF-8 bytes); a path in a zip: 4 names' worth
    folder_files: int = 10_000          # files and folders looked at under one folder given (or a student's)

    def described(self) -> str:
        """The limits in words, for the grader's start-up line and the docs."""
        return (f"notebooks up to {size(self.notebook_bytes)}; zips up to {self.zip_entries} entries, "
                f"{size(self.zip_bytes)} of notebooks, {self.zip_ratio}:1 compression; names up to "
                f"{self.name_bytes} bytes; {self.folder_files} files a folder")


DEFAULT = IntakeLimits()
RATIO_FROM = 1 * MB                     # smaller entries may compress as well as they like (an empty notebook)
CELLS = 10_000                          # cells in one notebook (the release has about a hundred)


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
    return f"too large: {size(count)}, the limit is {size(limit)}"


class Refused(ValueError):
    """A file the grader will not read; str() is the reason, as the row says it."""


def special_kind(mode: int) -> str:
    """'' for a regular file, else what the file is, in words ('a symbolic link', 'a FIFO', ...)."""
    if stat.S_ISREG(mode):
        return ""
    kinds = {stat.S_ISLNK: "a symbolic link", stat.S_ISDIR: "a folder", stat.S_ISFIFO: "a FIFO (named pipe)",
             stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device", stat.S_ISSOCK: "a socket"}
    return next((words for test, words in kinds.items() if test(mode)), "a special file")


def not_a_file(kind: str) -> str:
    return f"not a regular file: {kind}"


def name_problem(name: str, limit: int) -> str:
    """Why a file or folder name cannot be a submission's ('' when it can): not UTF-8, or too long."""
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:                           # a name of undecodable bytes (os.fsdecode's escapes)
        return f"a name that is not UTF-8: {printable(name)!r}"
    if len(encoded) > limit:
        return f"a name too long: {len(encoded)} bytes, the limit is {limit}"
    return ""


def printable(name: str, length: int = 60) -> str:
    """`name` safe to print and to write as UTF-8: undecodable bytes as U+FFFD, at most `length` characters."""
    text = os.fsencode(name).decode("utf-8", "replace") if _undecodable(name) else name
    return text if len(text) <= length else text[:length - 1] + "\N{HORIZONTAL ELLIPSIS}"


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
        if error.errno == errno.ELOOP:                   # O_NOFOLLOW on a symbolic link
            raise Refused(not_a_file("a symbolic link")) from None
        raise
    with os.fdopen(descriptor, "rb") as handle:
        mode, declared = os.fstat(descriptor).st_mode, os.fstat(descriptor).st_size
        if special_kind(mode):
            raise Refused(not_a_file(special_kind(mode)))
        if declared > limit:
            raise Refused(too_large(declared, limit))
        data = handle.read(limit + 1)                    # a file that grew since: still at most limit + 1 bytes
    if len(data) > limit:
        raise Refused(too_large(max(len(data), declared), limit) + " (it grew while read)")
    return data
