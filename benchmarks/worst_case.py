"""The slowest posts we can construct, at the size limit, and how long one check of each takes.

    .venv/bin/python -m benchmarks.worst_case [--chars N] [--repeat R] [--out FILE.md]

A check does work linear in the post's length (normalization, the automaton, refining hits),
plus regexes, which share a time budget per post (``Engine.regex_budget``) on top of each one's
timeout.  So the bound is the linear work on the longest post the engine scans (``max_chars``)
plus the regex budget.  This script builds the posts that maximize each part (every term of
every lexicon, one term fifty thousand times, invisible characters between every letter,
regex-hostile text) at ``--chars`` characters (the default limit minus one) and reports, per
post, the slowest of ``--repeat`` checks and the verdict's size.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import random
import sys
import time
from pathlib import Path

from policy import Engine
from policy.engine.pipeline import DEFAULT_MAX_CHARS, DEFAULT_REGEX_BUDGET


def cases(engine: Engine, chars: int, seed: int = 7) -> dict[str, str]:
    """Name -> a post body of ``chars`` characters."""
    table = engine.policy.key_entries.columns
    terms = [table.keys[table.key_starts[k]:table.key_starts[k + 1]] for k in range(len(table.key_starts) - 1)]
    rnd = random.Random(seed)

    def fill(pieces: list[str], joiner: str = "") -> str:
        out: list[str] = []
        size = 0
        while size < chars:
            piece = rnd.choice(pieces) + joiner
            out.append(piece)
            size += len(piece)
        return "".join(out)[:chars]

    return {
        "every term of every lexicon, back to back": fill(terms),
        "every term, separated by spaces": fill(terms, " "),
        "one term over and over": fill(["傻逼"]),
        "terms with zero-width characters inside": fill([t[:1] + "\u200b" + t[1:] for t in terms]),
        "letters and digits (contact-number regexes)": fill(list("0123456789 微信qQ加vVx")),
        "one character (regexes with no literal)": "字" * chars,
        "combining marks": "a" + "\u0301" * (chars - 1),
        "emoji sequences": fill(["👨‍👩‍👧‍👦", "🏳️‍🌈", "👉", "🈷️"]),
    }


def measure(engine: Engine, chars: int, repeat: int) -> list[tuple[str, float, int, str, int]]:
    rows = []
    for name, body in cases(engine, chars).items():
        worst = 0.0
        for _ in range(repeat):
            start = time.perf_counter()
            verdict = engine.check({"id": "worst", "body": body})
            worst = max(worst, time.perf_counter() - start)
        rows.append((name, worst, len(verdict.to_json().encode()), verdict.decision, len(verdict.warnings)))
    return rows


def report(rows: list, chars: int, repeat: int) -> str:
    lines = [
        "# Worst-case checks",
        "",
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.platform()}, "
        f"Python {platform.python_version()}. Bundled convention, posts of {chars:,} characters "
        f"(the limit is {DEFAULT_MAX_CHARS:,}; longer posts go to review unscanned), regex budget "
        f"{DEFAULT_REGEX_BUDGET * 1000:.0f} ms; slowest of {repeat} checks.",
        "",
        "| post | slowest check s | verdict bytes | decision | warnings |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {name} | {seconds:.2f} | {size:,} | {decision} | {warnings} |"
              for name, seconds, size, decision, warnings in rows]
    lines += ["", f"Slowest: {max(r[1] for r in rows):.2f} s."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=DEFAULT_MAX_CHARS - 1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    text = report(measure(Engine.load(), args.chars, args.repeat), args.chars, args.repeat)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
