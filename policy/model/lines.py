"""Posts as JSON lines: the one reader of ``policy scan``'s input, in one process or on a cluster.

A line is one JSON object; blank lines are skipped; a line that is not JSON, or longer than
:data:`MAX_LINE_CHARS`, is reported with its number and skipped.  Lines end at ``\\n``, ``\\r\\n`` or
``\\r`` (a text stream opened with ``newline=""``), so a line's number is the same whoever reads it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

MAX_LINE_CHARS = 16_000_000
"""A line longer than this is skipped unread (the post limit is far lower)."""

PostLine = tuple[str, int, "dict[str, Any] | None", "str | None"]
"""(source name, line number, the post's JSON object or None, the problem or None)."""


class LineError(Exception):
    """The input is not text: nothing after this point can be read."""


def post_lines(stream: TextIO, name: str, first_number: int = 1) -> Iterator[PostLine]:
    """Each non-empty line of ``stream`` (opened with ``newline=""``), numbered from ``first_number``."""
    number = first_number - 1
    while True:
        try:
            line = stream.readline(MAX_LINE_CHARS + 1)
            too_long = len(line) > MAX_LINE_CHARS and not line.endswith(("\n", "\r"))
            rest = line
            while too_long and rest and not rest.endswith(("\n", "\r")):
                rest = stream.readline(MAX_LINE_CHARS)  # skip the rest of the line without keeping it
        except UnicodeDecodeError as error:
            raise LineError(f"{name}: line {number + 1} is not UTF-8 text (byte {error.start})") from None
        if not line:
            return
        number += 1
        if too_long:
            yield name, number, None, f"line longer than {MAX_LINE_CHARS:,} characters"
            continue
        if not line.strip():
            continue
        try:
            yield name, number, json.loads(line), None
        except json.JSONDecodeError as error:
            yield name, number, None, f"invalid JSON: {error.msg} at column {error.colno}"
        except RecursionError:
            yield name, number, None, "invalid JSON: nested too deeply"


def count_lines(data: bytes) -> int:
    """How many lines :func:`post_lines` counts in ``data`` (every line ending, and a last line
    without one), computed on bytes: how a cluster's client numbers the lines of each shard."""
    endings = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    return endings + (1 if data and not data.endswith((b"\n", b"\r")) else 0)
