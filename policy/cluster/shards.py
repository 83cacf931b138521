"""Sharded JSON-lines input: files cut into runs of whole lines that any worker can read.

The client reads each file once, in binary, and cuts it after every ``lines`` lines; a shard is
(path, first byte, end byte, number of its first line).  A worker reads just its bytes, so a file
is never sent through the scheduler, and numbers its lines as one process reading the whole file
would (:func:`policy.model.lines.count_lines`).  On a multi-machine cluster every worker must see
the files at the same path (a shared file system).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from policy.model.lines import LineError, PostLine, count_lines, post_lines

DEFAULT_SHARD_LINES = 5000


class ShardError(Exception):
    """An input file cannot be read."""


@dataclass(frozen=True)
class Shard:
    path: str
    start: int
    end: int
    first_line: int

    def read(self) -> bytes:
        with open(self.path, "rb") as f:
            f.seek(self.start)
            return f.read(self.end - self.start)


def cut(paths: Iterable[str], lines: int = DEFAULT_SHARD_LINES) -> Iterator[Shard]:
    """The shards of every file in order, ``lines`` lines each (the last of a file may be shorter)."""
    if lines < 1:
        raise ShardError("a shard needs at least one line")
    for path in paths:
        if not Path(path).is_file():
            raise ShardError(f"{path!r} is not a file")
        try:
            with open(path, "rb") as f:
                start = end = 0
                first = number = 1
                taken = 0
                for raw in f:  # split at b"\n" only: a cut never falls inside "\r\n"
                    end += len(raw)
                    number += count_lines(raw)
                    taken += 1
                    if taken == lines:
                        yield Shard(path, start, end, first)
                        start, first, taken = end, number, 0
                if end > start:
                    yield Shard(path, start, end, first)
        except OSError as error:
            raise ShardError(f"cannot read {path!r}: {error.strerror or error}") from None


def shard_posts(shard: Shard) -> Iterator[PostLine]:
    """The shard's lines as ``policy scan`` reads them (UTF-8 text, or LineError)."""
    data = shard.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[:error.start]
        number = shard.first_line + before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n")
        raise LineError(f"{shard.path}: line {number} is not UTF-8 text (byte {shard.start + error.start})") from None
    yield from post_lines(io.StringIO(text, newline=""), shard.path, shard.first_line)


def shard_text(shard: Shard) -> Iterator[str]:
    """The shard's lines as ``policy replay`` reads a file (undecodable bytes replaced)."""
    yield from io.StringIO(shard.read().decode("utf-8", errors="replace"), newline=None)
