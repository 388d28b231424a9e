"""An LMS's bulk-download zip in, its notebooks out, extracted within the limits of ``grading/limits.py``.

The zip is checked from its directory before anything is extracted, then each entry is streamed to disk with
its size counted, in case the directory lies:

1. the end record (a few bytes at the end of the file): more entries than ``zip_entries``, or a directory
   larger than that many entries need, refuses the whole zip before Python's ``zipfile`` reads the directory;
2. the directory: an entry whose path climbs out of the folder (``../x``, ``/etc/x``, ``C:x``) refuses the
   whole zip (``UsageError``: nothing is extracted or graded), as does more than ``zip_bytes`` of notebooks;
3. each entry: only notebooks are extracted (other files are skipped, hidden ones such as ``__MACOSX/._x``
   too); a notebook entry is refused, and gets its row, when its name is not UTF-8 or too long, when it is a
   symbolic link, device or other special file, encrypted, larger than ``notebook_bytes``, or compressed more
   than ``zip_ratio`` times (from 1 MB up); a zip (or other archive) inside the zip is refused the same way;
4. streaming: an entry that gives more bytes than its directory said, or than its limit, is stopped at that
   limit and refused; one that cannot be decompressed (a bad CRC, a damaged stream) likewise.

Out: the extracted notebooks, with their entries' times, and for each refused entry the path it would have had
(never written) with its reason and time, so that the LMS's rules (the newest file counts) and its student ids
apply to it as to any file.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import pathlib
import re
import stat
import struct
import zipfile
import zlib

from autograder.grading import limits as intake
from autograder.grading.submissions import ARCHIVES, UsageError, archive_inside

UTF8_FLAG = 0x800
ENCRYPTED_FLAG = 0x1
DIRECTORY_ENTRY_BYTES = 46 + 4 * 255 + 64  # a directory record: fixed part, a long name, some extra fields
UNIX = 3  # ZipInfo.create_system of a zip made on Unix (its mode is real)
CHUNK = 2**20


class ZipRefused(intake.Refused):
    """The whole zip is past a limit; str() is the reason, for the row under the zip's name."""


def extract(
    archive: pathlib.Path, folder: pathlib.Path, limits: intake.IntakeLimits = intake.DEFAULT
) -> tuple[dict[pathlib.Path, str], dict[pathlib.Path, float]]:
    """Extract the notebooks of the zip `archive` into `folder` (module docstring); returns ({entry's path:
    why it is refused}, {entry's path: its time}) for the refused entries.

    Raises:
        ZipRefused: more entries or notebook bytes than the limits allow (nothing extracted).
        UsageError: not a zip, or an entry whose path climbs out of `folder` (nothing extracted).
    """
    folder = pathlib.Path(folder)
    with open(archive, "rb") as handle:
        check_end_record(handle, limits)
        try:
            bundle = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, UnicodeDecodeError, ValueError, EOFError, OSError) as error:
            raise UsageError(f"cannot read the zip {archive}: {error}") from None
        with bundle:
            entries = bundle.infolist()
            if len(entries) > limits.zip_entries:
                raise ZipRefused(too_many(len(entries), limits))
            _check_paths(archive, folder, entries)
            plan, refused = _plan(entries, folder, limits)
            total = sum(entry.file_size for entry, _ in plan)
            if total > limits.zip_bytes:
                raise ZipRefused(
                    f"a zip of {intake.size(total)} of notebooks, the limit is {intake.size(limits.zip_bytes)}"
                )
            budget = limits.zip_bytes
            for entry, target in plan:
                try:
                    budget -= stream(bundle, entry, target, min(entry.file_size, limits.notebook_bytes, budget))
                except (
                    intake.Refused,
                    zipfile.BadZipFile,
                    zlib.error,
                    EOFError,
                    RuntimeError,
                    NotImplementedError,
                    OSError,
                ) as error:
                    with contextlib.suppress(OSError):
                        target.unlink()
                    refused[target] = (damaged(error), _time(entry))
    return {path: reason for path, (reason, _) in refused.items()}, {path: when for path, (_, when) in refused.items()}


def too_many(count: int, limits: intake.IntakeLimits) -> str:
    return f"a zip of {count} entries, the limit is {limits.zip_entries}"


def check_end_record(handle, limits: intake.IntakeLimits) -> None:
    """Raise ZipRefused when the zip's end record declares more entries than the limit, or a directory larger
    than they need (read before ``zipfile`` builds an object per entry); a zip without one is left to zipfile."""
    entries, directory_bytes = end_record(handle)
    if entries > limits.zip_entries:
        raise ZipRefused(too_many(entries, limits))
    if directory_bytes > limits.zip_entries * DIRECTORY_ENTRY_BYTES:
        raise ZipRefused(
            f"a zip whose directory is {intake.size(directory_bytes)}, more than "
            f"{limits.zip_entries} entries need (the limit)"
        )


def end_record(handle) -> tuple[int, int]:
    """(entries, bytes of the central directory) as the zip's end record (or its Zip64 one) declares them;
    (0, 0) when there is none. Reads at most the last 64 kB of the file and 56 bytes more."""
    handle.seek(0, os.SEEK_END)
    end = handle.tell()
    handle.seek(max(0, end - (22 + 65535 + 20)))
    tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return 0, 0
    entries, directory_bytes = struct.unpack("<HI", tail[at + 10 : at + 16])
    locator = tail.rfind(b"PK\x06\x07", 0, at)
    if (entries == 0xFFFF or directory_bytes == 0xFFFFFFFF) and locator >= 0 and locator + 16 <= at:
        handle.seek(struct.unpack("<Q", tail[locator + 8 : locator + 16])[0])
        record = handle.read(56)
        if record[:4] == b"PK\x06\x06" and len(record) == 56:
            entries, directory_bytes = struct.unpack("<QQ", record[32:48])
    return entries, directory_bytes


def _check_paths(archive, folder, entries):
    for entry in entries:
        target = (folder / entry.filename).resolve()
        if (
            entry.filename.startswith(("/", "\\"))
            or re.match(r"^[A-Za-z]:", entry.filename)
            or not target.is_relative_to(folder.resolve())
            or ".." in re.split(r"[/\\]", entry.filename)
        ):
            raise UsageError(
                f"the zip {archive} holds an entry whose path climbs out of its folder: "
                f"{entry.filename!r}; nothing of it was extracted or graded (download the "
                f"submissions again from the LMS, or unzip the files you trust yourself)"
            )


def _plan(entries, folder, limits):
    """([(entry, where it goes)] to extract, {where it would go: (why refused, time)})."""
    plan, refused, taken = [], {}, set()
    for index, entry in enumerate(entries):
        name, name_reason = entry_name(entry)
        parts = [part for part in re.split(r"[/\\]", name) if part]
        if entry.is_dir() or not parts or any(part.startswith(".") for part in parts):
            continue
        if not parts[-1].endswith(".ipynb") and not parts[-1].lower().endswith(ARCHIVES):
            continue  # not a submission: never extracted
        target = folder.joinpath(*parts)
        reason = name_reason or entry_problem(entry, parts, limits)
        if target in taken:  # a second entry of one name: its row stands apart
            reason, target = reason or "the zip holds this name twice", folder.joinpath(f".entry-{index}", *parts)
        taken.add(target)
        if reason:
            refused[target] = (reason, _time(entry))
        else:
            plan.append((entry, target))
    return plan, refused


def in_order(path: pathlib.Path) -> tuple:
    """Sort key of extracted and refused entries: by path, a second entry of one name right after the first."""
    return [part for part in path.parts if not part.startswith(".entry-")], len(path.parts)


def entry_name(entry: zipfile.ZipInfo) -> tuple[str, str]:
    """(the entry's name, why it is refused for it or ''): a name not flagged UTF-8 is read as UTF-8 when its
    bytes are (what zip tools write), else refused."""
    if entry.flag_bits & UTF8_FLAG:
        return entry.filename, ""
    raw = entry.filename.encode("cp437")  # zipfile decoded the bytes as cp437: undo it
    try:
        return raw.decode("utf-8"), ""
    except UnicodeDecodeError:
        shown = raw.decode("utf-8", "replace")
        return shown, f"a name that is not UTF-8: {intake.printable(shown)!r}"


def entry_problem(entry: zipfile.ZipInfo, parts: list[str], limits: intake.IntakeLimits) -> str:
    """Why a notebook entry is refused, from the directory alone ('' when it is not)."""
    for part in parts:
        if reason := intake.name_problem(part, limits.name_bytes):
            return reason
    mode = entry.external_attr >> 16 if entry.create_system == UNIX else 0
    if stat.S_IFMT(mode) and (kind := intake.special_kind(mode)):
        return intake.not_a_file(kind)
    if parts[-1].lower().endswith(ARCHIVES):
        return archive_inside(parts[-1])
    if entry.flag_bits & ENCRYPTED_FLAG:
        return "an encrypted zip entry (a password is needed)"
    if entry.file_size > limits.notebook_bytes:
        return intake.too_large(entry.file_size, limits.notebook_bytes)
    ratio = entry.file_size / max(entry.compress_size, 1)
    if entry.file_size >= intake.RATIO_FROM and ratio > limits.zip_ratio:
        return (
            f"compressed {ratio:.0f}:1 in the zip, the limit is {limits.zip_ratio}:1 "
            f"({intake.size(entry.file_size)} from {intake.size(entry.compress_size)}: a zip bomb?)"
        )
    return ""


def stream(bundle: zipfile.ZipFile, entry: zipfile.ZipInfo, target: pathlib.Path, most: int) -> int:
    """Write the entry to `target` (a new file: nothing there is followed or overwritten), at most `most` bytes,
    with the entry's time; returns the bytes written. Raises intake.Refused past `most`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    written = 0
    with os.fdopen(descriptor, "wb") as sink, bundle.open(entry) as source:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            if written > most:
                raise intake.Refused(
                    f"{intake.too_large(written, most)} (more than its zip entry declares or the zip's limit leaves)"
                )
            sink.write(chunk)
    stamp = _time(entry)
    os.utime(target, (stamp, stamp))
    return written


def damaged(error: BaseException) -> str:
    if isinstance(error, intake.Refused):
        return str(error)
    if isinstance(error, OSError) and error.strerror:
        return f"a zip entry that cannot be extracted ({error.strerror})"
    return f"a damaged zip entry ({intake.printable(str(error), 120)})"


def _time(entry: zipfile.ZipInfo) -> float:
    try:
        return datetime.datetime(*entry.date_time).timestamp()
    except ValueError:  # a date a zip tool got wrong (month 0, ...)
        return 0.0
