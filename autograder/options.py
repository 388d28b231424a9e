"""Command-line options declared once, as the fields of a frozen dataclass per command.

In: a dataclass whose fields are made with ``option()`` (its default, help, type, choices and metavar, and where its
value goes in nbgrader's configuration, if anywhere). Out: ``add_arguments`` puts every field on an argparse parser
(``--disk-quota`` for ``disk_quota``; a field named ``paths`` with ``positional=True`` as ``PATH...``),
``from_namespace`` reads the parsed values back into the dataclass, and ``nbgrader_settings`` says what the values
set in nbgrader's ``Config``. The commands' dataclasses live beside what they feed: the grading job's in
``grading/options.py``, the command line's in ``cli.py``.

To add an option to a command, add a field to its dataclass::

    retries: int = option(0, "how often a submission whose worker died is graded again (default 0)",
                          type=whole_number, metavar="N")
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Callable


def option(
    default: Any = None,
    help: str = "",
    *,
    type: Callable | None = None,
    choices: tuple | None = None,
    metavar: str | None = None,
    required: bool = False,
    repeat: bool = False,
    positional: bool = False,
    nbgrader: str | None = None,
    command_line: bool = True,
):
    """A dataclass field that is also a command-line option.

    A bool default of False makes a flag (``--check``); ``repeat`` an option given several times, collected in a
    tuple (``--export canvas --export moodle``); ``positional`` the command's PATH... arguments (a tuple);
    ``nbgrader`` the configuration entry the value sets in the grading worker ("GradingExecute.timeout");
    ``command_line=False`` a setting that travels with the others but is not on the command line.
    """
    metadata = {
        "help": help,
        "type": type,
        "choices": choices,
        "metavar": metavar,
        "required": required,
        "repeat": repeat,
        "positional": positional,
        "nbgrader": nbgrader,
        "command_line": command_line,
    }
    return dataclasses.field(default=default, metadata=metadata)


def flag(field: dataclasses.Field) -> str:
    """The option's name on the command line: ``--disk-quota`` for the field ``disk_quota``."""
    return "--" + field.name.replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser, options: type) -> None:
    """Put each command-line field of the dataclass `options` on `parser`, in the order they are declared."""
    for field in dataclasses.fields(options):
        meta = field.metadata
        if not meta.get("command_line", False):
            continue
        if meta["positional"]:
            parser.add_argument(field.name, nargs="*", metavar=meta["metavar"], help=meta["help"])
        elif field.default is False:
            parser.add_argument(flag(field), action="store_true", help=meta["help"])
        else:
            named = {key: meta[key] for key in ("type", "choices", "metavar") if meta[key] is not None}
            if meta["repeat"]:
                named.update(action="append", default=[])
            else:
                named.update(default=field.default, required=meta["required"])
            parser.add_argument(flag(field), dest=field.name, help=meta["help"], **named)


def from_namespace(options: type, namespace: argparse.Namespace, **values: Any):
    """The dataclass `options` from parsed arguments (lists made tuples); `values` set fields not on the command
    line, or override parsed ones."""
    known = {}
    for field in dataclasses.fields(options):
        if hasattr(namespace, field.name):
            value = getattr(namespace, field.name)
            known[field.name] = tuple(value) if isinstance(value, list) else value
    return options(**{**known, **values})


def nbgrader_settings(options: Any) -> dict[tuple[str, str], Any]:
    """{(configurable, trait): value} for each field of `options` that sets nbgrader's configuration."""
    return {
        tuple(field.metadata["nbgrader"].split(".")): getattr(options, field.name)
        for field in dataclasses.fields(options)
        if field.metadata.get("nbgrader")
    }


def whole_number(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def gibibytes(text: str) -> float:
    """argparse type: a size in GiB, at least 1 MiB."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size in GiB, got {text!r}") from None
    if not value * 2**30 >= 2**20:
        raise argparse.ArgumentTypeError(f"must be at least 1 MiB (0.001 GiB), got {text}")
    return value
