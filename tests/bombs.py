"""Hostile inputs for the grader's ways in, generated small and fast: zips written byte by byte (a 10 GiB entry of
zeros in about 10 MB, streamed, never held in memory; a directory that understates an entry's size; names that
are not UTF-8), a zip of many empty entries, sparse files, links and FIFOs; and the peak memory of a process
that takes them in (``measured``).
"""

import dataclasses
import json
import os
import pathlib
import struct
import subprocess
import sys
import zipfile
import zlib

MiB = 2**20
GiB = 2**30
DOS_TIME = (0, (2026 - 1980) << 9 | 11 << 5 | 30)  # 2026-11-30 00:00:00 as (time, date)


@dataclasses.dataclass
class Entry:
    """One entry of a zip written by write_zip: its name's bytes, its compressed pieces and what they hold."""

    name: bytes
    pieces: object  # a function returning an iterator of the compressed (or stored) bytes
    crc: int
    size: int  # the bytes it holds, uncompressed
    compressed: int
    method: int = zipfile.ZIP_DEFLATED
    flags: int = 0x800  # the name is UTF-8
    mode: int = 0o100644  # a regular file
    declared: int | None = None  # the size its headers say, where they lie
    time: tuple = DOS_TIME  # (DOS time, DOS date)

    @classmethod
    def stored(cls, name, data: bytes, **kwargs):
        name = name.encode() if isinstance(name, str) else name
        return cls(name, lambda: iter([data]), zlib.crc32(data), len(data), len(data), zipfile.ZIP_STORED, **kwargs)


def zeros(name, size: int, declared: int | None = None) -> Entry:
    """An entry of `size` zero bytes, deflated at about 1000:1 without ever holding more than 1 MiB: deflate's
    output for 1 MiB of zeros after a full flush is always the same bytes, so the stream is that piece again and
    again (and the CRC is computed over the zeros a MiB at a time)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = compressor.compress(bytes(MiB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    rest = size % MiB
    tail = compressor.compress(bytes(rest)) + compressor.flush() if rest else compressor.flush()
    count = size // MiB
    crc = 0
    block = bytes(MiB)
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(bytes(rest), crc)
    name = name.encode() if isinstance(name, str) else name
    return Entry(
        name,
        lambda: (piece if index < count else tail for index in range(count + 1)),
        crc,
        size,
        count * len(piece) + len(tail),
        declared=declared,
    )


def write_zip(path: pathlib.Path, entries: list[Entry]) -> pathlib.Path:
    """Write `entries` as a zip at `path` (Zip64 sizes where they need it), streaming each entry's pieces."""
    directory = []
    with open(path, "wb") as out:
        for entry in entries:
            offset = out.tell()
            size = entry.size if entry.declared is None else entry.declared
            big = size >= 0xFFFFFFFF or entry.compressed >= 0xFFFFFFFF
            extra = struct.pack("<HHQQ", 1, 16, size, entry.compressed) if big else b""
            sizes = (0xFFFFFFFF, 0xFFFFFFFF) if big else (entry.compressed, size)
            out.write(
                struct.pack(
                    "<IHHHHHIIIHH",
                    0x04034B50,
                    45,
                    entry.flags,
                    entry.method,
                    *entry.time,
                    entry.crc,
                    *sizes,
                    len(entry.name),
                    len(extra),
                )
                + entry.name
                + extra
            )
            for piece in entry.pieces():
                out.write(piece)
            directory.append(
                struct.pack(
                    "<IHHHHHHIIIHHHHHII",
                    0x02014B50,
                    3 << 8 | 45,
                    45,
                    entry.flags,
                    entry.method,
                    *entry.time,
                    entry.crc,
                    *sizes,
                    len(entry.name),
                    len(extra),
                    0,
                    0,
                    0,
                    entry.mode << 16,
                    offset,
                )
                + entry.name
                + extra
            )
        start = out.tell()
        out.write(b"".join(directory))
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), out.tell() - start, start, 0))
    return path


def empty_entries(path: pathlib.Path, count: int) -> pathlib.Path:
    """A zip of `count` empty .ipynb entries (written by zipfile, with its Zip64 end record past 65535)."""
    with zipfile.ZipFile(path, "w") as bundle:
        for number in range(count):
            bundle.writestr(f"empty_{number}.ipynb", b"")
    return path


def sparse(path: pathlib.Path, size: int) -> pathlib.Path:
    """A file of `size` bytes that takes no disk (a hole)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.truncate(size)
    return path


# The intake (or a whole grading) in a process of its own, which reports its own peak resident memory (VmHWM:
# this process only, not the grading workers and kernels it starts) and how long it took.
MEASURE = """
import json, sys, time
started = time.monotonic()
{body}
peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))
json.dump({{"result": result, "peak_bytes": peak, "seconds": time.monotonic() - started}}, open(sys.argv[1], "w"))
"""
INTAKE = """
import contextlib
from autograder.integrations import lms
with contextlib.ExitStack() as scratch:
    found, notes = lms.collect({paths!r}, scratch)
    result = {{"rows": [[item.student, item.refused] for item in found], "notes": notes}}
"""
GRADE = """
from autograder.__main__ import main
result = main({argv!r})
"""


def measured(body: str, report: pathlib.Path, env: dict | None = None, timeout: int = 900) -> dict:
    """Run `body` (which sets `result`) in a fresh Python; returns {"result", "peak_bytes", "seconds"}, plus
    the process's "stdout" and "stderr"."""
    ran = subprocess.run(
        [sys.executable, "-c", MEASURE.format(body=body), str(report)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=pathlib.Path(__file__).resolve().parent.parent,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    return {**json.loads(pathlib.Path(report).read_text()), "stdout": ran.stdout, "stderr": ran.stderr}


def intake(paths: list, report: pathlib.Path) -> dict:
    """lms.collect(paths) measured: result {"rows": [[student, why refused or ""]], "notes": [...]}."""
    return measured(INTAKE.format(paths=[str(path) for path in paths]), report)


def grade(argv: list, report: pathlib.Path, env: dict | None = None) -> dict:
    """`python -m autograder` with `argv`, measured: result is its exit code."""
    return measured(GRADE.format(argv=[str(arg) for arg in argv]), report, env)
