"""The automaton scan alone: pyahocorasick (the pure-Python path's) beside the compiled core's.

    .venv/bin/python -m benchmarks.core_scan [--rounds 7]

Both scan the bundled convention's automaton (the same keys and numbers) over the same texts, as
``raw_scan`` calls them: UTF-8 bytes in, the list of (end, key) out; pyahocorasick is given the
bytes spelled as latin-1, as the engine gives them.  Texts: a short clean comment, a short one with
hits, and a 5,000-character post.  Each figure is the median over ``--rounds`` rounds, the two
scanners alternating within a round.  Also: building the flat automaton and loading it (its checks
included); one field's whole raw scan on each path (``scan_text``: normalize, encode, automaton,
which the compiled path does in one call); and ``Engine.check`` of the same texts on each path
(the pure-Python one through :func:`policy.runtime.core.on_pure_python`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from policy import Engine
from policy.compiler.automaton import build_automaton
from policy.runtime import core
from policy.text.normalize import DEFAULT_PROFILE, table_for

TEXTS = {
    "short clean": "今天天气不错，我们去公园散步吧，顺便买点水果回来",
    "short with hits": "你就是个傻逼，加我微信 abc123 领福利",
    "5,000 characters": ("今天天气不错，我们去公园散步吧，顺便买点水果回来。" * 200)[:5000],
}


def per_call(scan, data, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        scan(data)
    return (time.perf_counter() - started) / calls


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.core_scan", description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args(argv)
    if core.CORE is None:
        raise SystemExit(f"the compiled core is not here: {core.PATH}")
    policy = Engine.load().policy
    automaton = policy.automaton
    started = time.perf_counter()
    flat = build_automaton([k.encode("latin-1") for k in sorted(automaton.keys(), key=automaton.get)])
    built = time.perf_counter() - started
    loads = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        compiled = core.CORE.Automaton(flat)
        loads.append(time.perf_counter() - started)
    pure = core._Pyahocorasick(automaton)
    print(f"{len(automaton):,} keys; flat automaton {len(flat) / 1e6:.2f} MB, built in {built:.2f} s, "
          f"loaded and checked in {statistics.median(loads) * 1e3:.2f} ms (median of {args.rounds})\n")
    print("| text | pyahocorasick µs | compiled core µs | ratio |")
    print("|---|---|---|---|")
    for name, text in TEXTS.items():
        data = text.encode("utf-8")
        assert compiled.scan(data) == pure.scan(data)
        calls = max(200, 2_000_000 // max(len(data), 1))
        old, new = [], []
        for _ in range(args.rounds):
            old.append(per_call(pure.scan, data, calls))
            new.append(per_call(compiled.scan, data, calls))
        a, b = statistics.median(old), statistics.median(new)
        print(f"| {name} | {a * 1e6:.2f} | {b * 1e6:.2f} | {a / b:.2f}× |")
    table = table_for(DEFAULT_PROFILE)
    engines = {"pure Python": Engine(core.on_pure_python(policy)), "compiled": Engine(policy)}
    for title, work in (
        ("normalize + encode + automaton (scan_text)", lambda engine, text: core.scanner_for(
            engine.policy).scan_text(table, text, {}, None)),
        ("Engine.check", lambda engine, text: engine.check(text)),
    ):
        print(f"\n| {title} | pure Python µs | compiled µs | ratio |")
        print("|---|---|---|---|")
        for name, text in TEXTS.items():
            calls = max(50, 200_000 // len(text))
            runs: dict[str, list[float]] = {path: [] for path in engines}
            for _ in range(args.rounds):
                for path, engine in engines.items():
                    runs[path].append(per_call(lambda t, e=engine, w=work: w(e, t), text, calls))
            a, b = (statistics.median(runs[path]) for path in engines)
            print(f"| {name} | {a * 1e6:.2f} | {b * 1e6:.2f} | {a / b:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
