"""One Markdown report of how fast the engine is, what its parts cost, how it grows, and how it
compares with the obvious alternatives on the same texts and terms.

    .venv/bin/python -m benchmarks.compare [--quick] [--out FILE.md]

Real text and the 64k-term houbb lexicon are read at run time from ``/work/shared/data`` (or
``--data DIR``) when present and never copied; without them the script generates text and terms
from a fixed seed, so it runs anywhere.  Timing: ``time.perf_counter_ns`` around each call, after a
warm-up, many repetitions; medians and p99 over every call.  ``--quick`` shrinks everything to
finish in under a minute.  The smoke test (``tests/test_benchmarks_smoke.py``) runs the same
functions on tiny sizes.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import regex

from policy import Engine, Post
from policy.engine import build
from policy.lang.resources import bundled_convention
from policy.runtime import core
from policy.runtime.evaluate import Context
from policy.runtime.match import raw_scan
from policy.text.normalize import DEFAULT_PROFILE, normalize, table_for

DEFAULT_DATA = Path("/work/shared/data")
HOUBB = Path("lexicons/houbb/sensitive_word_dict.txt")
COLD = Path("cold/dev.jsonl")
HARM = Path("chineseharm/dev_positives.jsonl")
SEED = 20261122

TABLES = (
    "Machine",
    "Targets",
    "End to end",
    "Parts",
    "Where check() spends its time",
    "One-off costs",
    "Growth: lexicon size",
    "Growth: post length",
    "Growth: rule count",
    "Side by side",
    "policy scan end to end",
)
"""Every section the report has, in order (the smoke test checks each heading)."""


@dataclass(frozen=True)
class Sizes:
    short_posts: int  # per short set (clean, violating)
    long_posts: int  # per long set
    long_chars: int
    warmup: int
    repeat: int  # passes over a set of posts
    ext_terms: int  # size of the generated external lexicon when houbb is absent
    builds: int  # repetitions of a policy build
    loads: int  # repetitions of a cached load
    lexicon_growth: tuple[int, ...]
    post_lengths: tuple[int, ...]
    rule_counts: tuple[int, ...]
    side_terms: int  # terms of the side-by-side lexicon (the regex alternation's size)
    side_posts: int  # posts per set for the side-by-side (regex and the loop are slow)
    side_repeat: int
    scan_posts: int  # posts in the policy scan end-to-end run


FULL = Sizes(short_posts=1000, long_posts=60, long_chars=5000, warmup=200, repeat=5, ext_terms=64_420, builds=3,
             loads=5, lexicon_growth=(1_000, 10_000, 64_000, 200_000), post_lengths=(100, 1_000, 5_000, 20_000),
             rule_counts=(10, 100, 1_000), side_terms=10_000, side_posts=300, side_repeat=3, scan_posts=30_000)
QUICK = Sizes(short_posts=150, long_posts=8, long_chars=5000, warmup=30, repeat=2, ext_terms=64_420, builds=1,
              loads=2, lexicon_growth=(1_000, 10_000), post_lengths=(100, 1_000, 5_000), rule_counts=(10, 100),
              side_terms=10_000, side_posts=40, side_repeat=1, scan_posts=6_000)
TINY = Sizes(short_posts=6, long_posts=2, long_chars=600, warmup=2, repeat=1, ext_terms=300, builds=1, loads=1,
             lexicon_growth=(100, 300), post_lengths=(100, 400), rule_counts=(10, 20), side_terms=300,
             side_posts=4, side_repeat=1, scan_posts=40)

TARGETS = {  # the compiled per-post core's issue (19); the pure-Python path is reported beside
    "short_clean": 60_000,  # checks/s on one core, short clean comments, bundled convention
    "short_violating": 20_000,  # ... short violating comments
    "short_ext_clean": 40_000,  # ... short clean, with the 64k lexicon beside the convention
    "floor_ratio": 3.0,  # check() of a short clean post at most this many times pyahocorasick's scan
    "long_clean": 2_000,  # checks/s of 5,000-character clean posts
    "scan_posts_s": 30_000,  # policy scan end to end, posts/s on one process
    "scan_two": 1.8,  # ... two processes at least this many times one
    "cache_ms": 15.0,  # cached load of the 64k-term policy
}


# ---- timing ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Timing:
    samples: int
    median_ns: float
    p99_ns: float
    mean_ns: float

    @property
    def median_us(self) -> float:
        return self.median_ns / 1000

    @property
    def p99_us(self) -> float:
        return self.p99_ns / 1000

    @property
    def per_second(self) -> float:
        return 1e9 / self.mean_ns if self.mean_ns else float("inf")


def summarize(samples: Sequence[int]) -> Timing:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return Timing(len(ordered), statistics.median(ordered), p99, sum(ordered) / len(ordered))


def time_each(fn: Callable, items: Sequence, *, warmup: int, repeat: int) -> Timing:
    """Call ``fn(item)`` for every item, ``repeat`` passes after ``warmup`` calls; time each call."""
    clock = time.perf_counter_ns
    for i in range(min(warmup, max(len(items), 1) * 3)):
        fn(items[i % len(items)])
    samples: list[int] = []
    for _ in range(repeat):
        for item in items:
            start = clock()
            fn(item)
            samples.append(clock() - start)
    return summarize(samples)


def time_once(fn: Callable, times: int) -> tuple[float, object]:
    """Median seconds of ``times`` calls of ``fn()`` and the last result."""
    durations = []
    results = []  # kept until all calls are timed: freeing a result is not part of making it
    for _ in range(max(times, 1)):
        gc.collect()
        start = time.perf_counter_ns()
        value = fn()
        durations.append(time.perf_counter_ns() - start)
        results.append(value)
    return statistics.median(durations) / 1e9, results[-1]


# ---- inputs ----------------------------------------------------------------------------------

_CJK_PUNCT = "，。！？、"


def _convention_chars() -> str:
    """The CJK characters of the bundled rule files (their examples are ordinary posts), as a pool."""
    text = "".join(p.read_text(encoding="utf-8") for p in sorted(bundled_convention().glob("*.policy")))
    return "".join(re.findall(r"[\u4e00-\u9fff]", text))


def strong_abuse_terms() -> list[str]:
    terms = []
    for line in (bundled_convention() / "lexicons" / "abuse.txt").read_text(encoding="utf-8").splitlines():
        term, _, tags = line.partition("\t")
        if term and not term.startswith("#") and "strong" in tags:
            terms.append(term.strip())
    return terms


def generated_text(rng: random.Random, length: int, pool: str) -> str:
    out: list[str] = []
    while len(out) < length:
        out.extend(rng.choices(pool, k=rng.randint(4, 14)))
        out.append(rng.choice(_CJK_PUNCT))
    return "".join(out[:length])


def generated_terms(count: int, seed: int = SEED) -> list[str]:
    """``count`` distinct random CJK terms of 2-4 characters (U+4E00..U+9FA5), fixed seed."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        term = "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(rng.randint(2, 4)))
        if term not in seen:
            seen.add(term)
            out.append(term)
    return out


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _join_to(rng: random.Random, pool: list[str], chars: int) -> str:
    parts: list[str] = []
    size = 0
    while size < chars:
        part = rng.choice(pool)
        parts.append(part)
        size += len(part) + 1
    return "\n".join(parts)[:chars]


@dataclass
class Texts:
    source: str  # "real" or "generated"
    sets: dict[str, list[str]]  # short_clean, short_violating, long_clean, long_violating
    clean_pool: list[str]  # for posts of any length


def load_texts(sizes: Sizes, data: Path | None) -> Texts:
    rng = random.Random(SEED)
    if data is not None and (data / COLD).is_file() and (data / HARM).is_file():
        clean = [r["text"] for r in _read_jsonl(data / COLD) if r.get("label") == 0]
        bad = [r["text"] for r in _read_jsonl(data / HARM)]
        short_clean = [t for t in clean if 50 <= len(t) <= 200]
        short_bad = [t for t in bad if 50 <= len(t) <= 200]
        rng.shuffle(short_clean)
        rng.shuffle(short_bad)
        sets = {
            "short_clean": short_clean[:sizes.short_posts],
            "short_violating": short_bad[:sizes.short_posts],
            "long_clean": [_join_to(rng, clean, sizes.long_chars) for _ in range(sizes.long_posts)],
            "long_violating": [_join_to(rng, bad, sizes.long_chars) for _ in range(sizes.long_posts)],
        }
        return Texts("real", sets, clean)
    pool = _convention_chars()
    abuse = strong_abuse_terms()

    def violating(length: int) -> str:
        text = list(generated_text(rng, length, pool))
        for _ in range(max(1, length // 400)):
            at = rng.randrange(len(text))
            text[at:at] = list(rng.choice(abuse))
        return "".join(text)  # a few characters over ``length``: an insult cut in half would be clean

    sets = {
        "short_clean": [generated_text(rng, rng.randint(50, 200), pool) for _ in range(sizes.short_posts)],
        "short_violating": [violating(rng.randint(50, 200)) for _ in range(sizes.short_posts)],
        "long_clean": [generated_text(rng, sizes.long_chars, pool) for _ in range(sizes.long_posts)],
        "long_violating": [violating(sizes.long_chars) for _ in range(sizes.long_posts)],
    }
    return Texts("generated", sets, [generated_text(rng, 120, pool) for _ in range(200)])


SET_TITLES = {
    "short_clean": "short, clean",
    "short_violating": "short, violating",
    "long_clean": "long, clean",
    "long_violating": "long, violating",
}

# ---- policies --------------------------------------------------------------------------------

HEADER = """\
convention "基准公约" { version "bench" }
clause 一 "违法、不良信息"
clause 一.9 "其他危害"
clause 一.9.4 "其他"
category other_harm "其他危害" { clause 一.9 severity 1 }
"""


def external_rule(path: Path) -> str:
    return (f'lexicon ext "外部词库" {{ file "{path.resolve()}" }}\n'
            'rule other_harm.external "外部词库" { category other_harm clause 一.9.4 when body has ext }\n')


def write_terms(path: Path, terms: Sequence[str]) -> Path:
    path.write_text("".join(t + "\n" for t in terms), encoding="utf-8")
    return path


def beside_convention(folder: Path, term_file: Path) -> Path:
    """A policy folder: links to the bundled rule files and lexicons, plus the external lexicon."""
    folder.mkdir(parents=True, exist_ok=True)
    source = bundled_convention()
    for item in sorted(source.glob("*.policy")) + [source / "lexicons"]:
        link = folder / item.name
        if not link.exists():
            link.symlink_to(item.resolve(), target_is_directory=item.is_dir())
    (folder / "zz_external.policy").write_text(external_rule(term_file), encoding="utf-8")
    return folder


def lexicon_only(folder: Path, term_file: Path) -> Path:
    """A policy of one lexicon and one rule: the lexicon's own cost, without the convention."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.policy").write_text(HEADER + external_rule(term_file), encoding="utf-8")
    return folder


def many_rules(folder: Path, count: int, seed: int = SEED) -> tuple[Path, list[str]]:
    """``count`` rules, each on its own lexicon of three generated terms; a third also need the previous
    rule's lexicon, a third are silenced by a shared guard lexicon.  Returns the folder and some terms."""
    folder.mkdir(parents=True, exist_ok=True)
    terms = generated_terms(count * 3 + 5, seed + count)
    guard = terms[-5:]
    lines = [HEADER, 'lexicon guard "排除" { terms ' + " ".join(f'"{t}"' for t in guard) + " }\n"]
    for i in range(count):
        own = terms[i * 3:i * 3 + 3]
        lines.append(f'lexicon g{i} "生成{i}" {{ terms ' + " ".join(f'"{t}"' for t in own) + " }\n")
        if i % 3 == 1:
            when = f"body has g{i} and body has g{i - 1}"
        elif i % 3 == 2:
            when = f"body has g{i} and not body has guard"
        else:
            when = f"body has g{i}"
        lines.append(f'rule other_harm.g{i} "生成规则{i}" {{ category other_harm clause 一.9.4 action review '
                     f"when {when} }}\n")
    (folder / "main.policy").write_text("".join(lines), encoding="utf-8")
    return folder, terms[:count * 3:7]


# ---- memory ----------------------------------------------------------------------------------

_RSS_SCRIPT = """
import json, sys
def status():
    out = {}
    for line in open('/proc/self/status'):
        key, _, value = line.partition(':')
        if key in ('VmRSS', 'VmHWM'):
            out[key] = int(value.split()[0]) / 1024
    return out
from policy import Engine
base = status()
path = sys.argv[1] if sys.argv[1] != '-' else None
engine = Engine.load(path, cache_dir=sys.argv[2])
engine.check({'id': 'x', 'body': '今天天气不错，一起去吃饭吧'})
after = status()
print(json.dumps({'base': base['VmRSS'], 'rss': after['VmRSS'], 'hwm': after['VmHWM']}))
"""


def resident_memory(path: Path | None, cache_dir: Path, pure: bool = False) -> dict[str, float]:
    """RSS (MB) of a fresh interpreter after ``import policy`` and after loading ``path`` from the cache
    (the main process fills the cache first, so this is what a serving process holds); ``pure``: on
    the pure-Python path."""
    Engine.load(path, cache_dir=cache_dir)
    env = {**os.environ, core.PURE_PYTHON_ENV: "1" if pure else "0"}
    result = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(path) if path else "-", str(cache_dir)],
                            capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1],
                            env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---- measurements --------------------------------------------------------------------------------

def _post(text: str) -> dict:
    return {"id": "b", "body": text}


def engine_timing(engine: Engine, texts: list[str], sizes: Sizes, repeat: int | None = None) -> Timing:
    posts = [_post(t) for t in texts]
    return time_each(engine.check, posts, warmup=sizes.warmup, repeat=repeat or sizes.repeat)


def flagged_share(engine: Engine, texts: list[str]) -> float:
    return sum(engine.check(_post(t)).decision != "allow" for t in texts) / max(len(texts), 1)


def rules_tested(engine: Engine, texts: list[str]) -> float:
    """How many rules a post wakes on average: those whose trigger its signals meet, the only
    ones ``check`` evaluates (of ``len(engine.policy.rules)``)."""
    woken = 0
    for text in texts:
        ctx = Context(engine.policy, Post.from_dict(_post(text)), engine.regex_timeout)
        woken += len(engine.policy.triggers.candidates(engine.scan_signals(ctx)))
    return woken / max(len(texts), 1)


def automaton_of(engine: Engine):
    return engine.policy.automaton


def encoded(text: str) -> str:
    """The normalized text as the engine feeds it to the automaton (UTF-8 bytes spelled as latin-1)."""
    return normalize(text, table_for(DEFAULT_PROFILE)).encode("utf-8", "surrogatepass").decode("latin-1")


def part_timings(engine: Engine, texts: list[str], sizes: Sizes) -> dict[str, Timing]:
    table = table_for(DEFAULT_PROFILE)
    policy = engine.policy
    automaton = automaton_of(engine)
    posts = [_post(t) for t in texts]
    verdicts = [engine.check(p) for p in posts]
    kw = {"warmup": sizes.warmup, "repeat": sizes.repeat}
    parts = {
        "check": time_each(engine.check, posts, **kw),
        "normalize": time_each(lambda t: normalize(t, table), texts, **kw),
        "raw_scan": time_each(lambda t: raw_scan(policy, "body", t, {}), texts, **kw),
        "automaton": time_each(lambda s: list(automaton.iter(s)), [encoded(t) for t in texts], **kw),
        "to_json": time_each(lambda v: v.to_json(), verdicts, **kw),
    }
    return parts


STAGES = (
    ("post", "read the post dict, make the check's context"),
    ("normalize + automaton", "normalize each text field and run the main automaton over it"),
    ("regex literals", "the original-text literal automaton, and which regexes may match"),
    ("signals", "lexicon and fact signals, and the rules they wake"),
    ("rules", "the conditions of the woken rules (refining hits, running regexes)"),
    ("evidence", "the fired rules' evidence, spans and explanations"),
    ("verdict", "the sanction on the ladder and the verdict object"),
)
"""The stages of ``Engine.check`` as :func:`stage_timings` times them, in order."""


def staged_check(engine: Engine, data: dict, clock: Callable[[], int] = time.perf_counter_ns) -> tuple[str, list[int]]:
    """``engine.check(data)`` done stage by stage (the same calls, in the same order), with the
    time of each stage in ns: (decision, [ns per stage of STAGES])."""
    policy, triggers = engine.policy, engine.policy.triggers
    t0 = clock()
    post = Post.from_dict(data)
    ctx = Context(policy, post, engine.regex_timeout, regex_budget=engine.regex_budget)
    t1 = clock()
    for name in post.texts.keys() & (triggers.lexicon_signals.keys() | triggers.regex_signals.keys()):
        ctx.scan(name)
    t2 = clock()
    for name in post.texts.keys() & triggers.regex_signals.keys():
        ctx.regexes_possible(name)
    t3 = clock()
    candidates = triggers.candidates(engine.scan_signals(ctx))
    t4 = clock()
    fired = [policy.rules[i] for i in candidates if policy.rules[i].condition.test(ctx)]
    t5 = clock()
    violations = [engine._violation(rule, ctx, post) for rule in fired]
    t6 = clock()
    verdict = engine._verdict(post, ctx, [v for v in violations if v.mode != "shadow"],
                              [v for v in violations if v.mode == "shadow"], None, ())
    t7 = clock()
    return verdict.decision, [t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6]


def primitives_of(engine: Engine) -> Callable[[str], list]:
    """The C calls that ``check()`` of a body makes on every post, back to back with no Python
    logic between them: normalize (the translate and its checks), the main automaton, the
    original-text literal automaton, and the verdict's clock.  Its time is what any Python code
    built on these primitives pays at the least: the floor under ``check()``."""
    table = table_for(DEFAULT_PROFILE)
    automaton, original = engine.policy.automaton, engine.policy.prefilter.original
    utc = datetime.timezone.utc

    def primitives(text: str) -> list:
        found = list(automaton.iter(normalize(text, table).encode("utf-8", "surrogatepass").decode("latin-1")))
        if original is not None:
            found += original.iter(text.casefold().encode("utf-8", "surrogatepass").decode("latin-1"))
        datetime.datetime.now(utc)
        return found

    return primitives


def stage_timings(engine: Engine, texts: list[str], sizes: Sizes) -> dict:
    """Mean µs per post of each stage of ``check()`` (:func:`staged_check`), and of ``check()``
    itself over the same posts, for comparison (the clock calls cost a little); and the floor
    under it (:func:`primitives_of`)."""
    posts = [_post(t) for t in texts]
    for data in posts[:sizes.warmup]:
        staged_check(engine, data)
    totals = [0] * len(STAGES)
    for _ in range(sizes.repeat):
        for data in posts:
            for i, ns in enumerate(staged_check(engine, data)[1]):
                totals[i] += ns
    calls = sizes.repeat * len(posts)
    return {"stages": [t / calls / 1000 for t in totals], "check": engine_timing(engine, texts, sizes),
            "floor": time_each(primitives_of(engine), texts, warmup=sizes.warmup, repeat=sizes.repeat)}


@dataclass
class Setup:
    engines: dict[str, Engine]  # "bundled", "ext": on the path that runs (compiled when it is built)
    pure: dict[str, Engine]  # the same policies on the pure-Python path (policy.runtime.core.on_pure_python)
    paths: dict[str, Path | None]
    ext_source: str
    ext_terms: list[str]


def make_setup(work: Path, sizes: Sizes, data: Path | None) -> Setup:
    houbb = data / HOUBB if data is not None else None
    if houbb is not None and houbb.is_file():
        term_file = houbb
        source = f"houbb sensitive_word_dict.txt ({houbb})"
        terms = [t.strip() for t in houbb.read_text(encoding="utf-8").splitlines() if t.strip()]
    else:
        terms = generated_terms(sizes.ext_terms)
        term_file = write_terms(work / "generated_lexicon.txt", terms)
        source = f"generated: random CJK 2–4 character terms, seed {SEED}"
    ext_path = beside_convention(work / "with_external", term_file)
    engines = {"bundled": Engine.load(), "ext": Engine.load(ext_path)}
    pure = {name: Engine(core.on_pure_python(engine.policy)) for name, engine in engines.items()}
    return Setup(engines, pure, {"bundled": None, "ext": ext_path}, f"{len(terms):,} terms, {source}", terms)


def measure_end_to_end(setup: Setup, texts: Texts, sizes: Sizes) -> dict:
    out = {}
    for name, engine in setup.engines.items():
        for set_name, items in texts.sets.items():
            out[(name, set_name)] = {
                "timing": engine_timing(engine, items, sizes),
                "pure": engine_timing(setup.pure[name], items, sizes),
                "flagged": flagged_share(engine, items),
                "rules_tested": rules_tested(engine, items),
                "chars": statistics.mean(len(t) for t in items),
                "posts": len(items),
            }
    return out


def measure_parts(setup: Setup, texts: Texts, sizes: Sizes) -> dict:
    return {(name, set_name): part_timings(engine, items, sizes)
            for name, engine in setup.engines.items() for set_name, items in texts.sets.items()}


def measure_stages(setup: Setup, texts: Texts, sizes: Sizes) -> dict:
    engine, pure = setup.engines["bundled"], setup.pure["bundled"]
    return {set_name: {**stage_timings(engine, items, sizes), "pure": stage_timings(pure, items, sizes)["stages"]}
            for set_name, items in texts.sets.items()}


def measure_one_off(setup: Setup, work: Path, sizes: Sizes) -> dict:
    out: dict = {}
    for name, path in setup.paths.items():
        seconds, _ = time_once(lambda path=path: build(path), sizes.builds)
        cache = work / f"cache_{name}"
        Engine.load(path, cache_dir=cache)
        load_s, _ = time_once(lambda path=path, cache=cache: _load_ready(path, cache), sizes.loads)
        out[name] = {"build_s": seconds, "cache_s": load_s, "memory": resident_memory(path, cache),
                     "pure_memory": resident_memory(path, cache, pure=True)}
    return out


def _load_ready(path: Path | None, cache: Path) -> Engine:
    """A cached load, and the scanners of the path that runs made (the compiled core checks and
    loads its flat automata then): what a process pays before its first check."""
    engine = Engine.load(path, cache_dir=cache)
    core.scanner_for(engine.policy)
    core.literal_scanner_for(engine.policy)
    return engine


def measure_lexicon_growth(work: Path, sizes: Sizes, texts: Texts) -> list[dict]:
    rows = []
    biggest = max(sizes.lexicon_growth)
    terms = generated_terms(biggest, SEED + 1)
    short = texts.sets["short_clean"][:max(sizes.side_posts, 4)]
    long = texts.sets["long_clean"]
    for count in sizes.lexicon_growth:
        folder = lexicon_only(work / f"lex_{count}", write_terms(work / f"lex_{count}.txt", terms[:count]))
        build_s, built = time_once(lambda folder=folder: build(folder), 1)
        engine = Engine(built.compiled)
        cache = work / f"cache_lex_{count}"
        Engine.load(folder, cache_dir=cache)
        load_s, _ = time_once(lambda folder=folder, cache=cache: Engine.load(folder, cache_dir=cache), sizes.loads)
        memory = resident_memory(folder, cache)
        policy = engine.policy
        kw = {"warmup": sizes.warmup, "repeat": sizes.repeat}
        rows.append({
            "terms": count, "build_s": build_s, "cache_s": load_s, "memory": memory,
            "scan_short": time_each(lambda t, p=policy: raw_scan(p, "body", t, {}), short, **kw),
            "scan_long": time_each(lambda t, p=policy: raw_scan(p, "body", t, {}), long, **kw),
            "check_short": engine_timing(engine, short, sizes),
        })
        del engine, built
    return rows


def measure_post_growth(setup: Setup, sizes: Sizes, texts: Texts) -> list[dict]:
    rows = []
    rng = random.Random(SEED + 2)
    count = max(4, min(sizes.side_posts, 60))
    policy = setup.engines["bundled"].policy
    for length in sizes.post_lengths:
        items = [_join_to(rng, texts.clean_pool, length) for _ in range(count)]
        repeat = max(1, sizes.repeat * 1000 // max(length, 1000))
        row = {"chars": length, "posts": count}
        for name, engine in setup.engines.items():
            row[name] = engine_timing(engine, items, sizes, repeat=repeat)
        row["scan"] = time_each(lambda t: raw_scan(policy, "body", t, {}), items, warmup=sizes.warmup, repeat=repeat)
        rows.append(row)
    return rows


def measure_rule_growth(work: Path, sizes: Sizes, texts: Texts) -> list[dict]:
    rows = []
    rng = random.Random(SEED + 3)
    short = texts.sets["short_clean"][:max(sizes.side_posts, 4)]
    for count in sizes.rule_counts:
        folder, sample = many_rules(work / f"rules_{count}", count)
        build_s, built = time_once(lambda folder=folder: build(folder), 1)
        if built.compiled is None:
            raise RuntimeError(f"generated policy of {count} rules does not compile: "
                               + "; ".join(str(d) for d in built.diagnostics if d.is_error)[:500])
        engine = Engine(built.compiled)
        with_hits = []
        for t in short:
            at = rng.randrange(len(t) + 1)
            with_hits.append(t[:at] + rng.choice(sample) + t[at:])
        rows.append({
            "rules": count, "build_s": build_s,
            "clean": engine_timing(engine, short, sizes),
            "hits": engine_timing(engine, with_hits, sizes),
            "flagged": flagged_share(engine, with_hits),
        })
    return rows


def _alternation(module, terms: Sequence[str]):
    """``module`` (``regex`` or the standard ``re``) compiling one alternation of the terms, longest first."""
    return module.compile("|".join(module.escape(t) for t in sorted(set(terms), key=len, reverse=True)))


def side_sample(terms: Sequence[str], count: int) -> list[str]:
    """A seeded random sample of the external terms, in their order.  Not the first ``count``: term
    files are often sorted, and the first 10,000 of houbb's share a few first characters (digits,
    Latin, early CJK), which flatters any matcher that filters on the first character."""
    if len(terms) <= count:
        return list(terms)
    chosen = sorted(random.Random(SEED).sample(range(len(terms)), count))
    return [terms[i] for i in chosen]


def _normalized_terms(engine: Engine) -> list[str]:
    """The engine's own automaton keys (normalized terms), back from latin-1 spelled UTF-8."""
    return [k.encode("latin-1").decode("utf-8", "surrogatepass") for k in engine.policy.automaton.keys()]


def measure_side_by_side(setup: Setup, work: Path, sizes: Sizes, texts: Texts) -> list[dict]:
    """Per lexicon: the engine, its own automaton alone, normalize + automaton, a regex alternation and a
    substring loop over the same normalized terms and texts, in this process."""
    side_terms = side_sample(setup.ext_terms, sizes.side_terms)
    folder = lexicon_only(work / "side", write_terms(work / "side_terms.txt", side_terms))
    configs = [
        (f"{len(side_terms):,} external terms alone", Engine.load(folder), True),
        ("bundled convention", setup.engines["bundled"], len(_normalized_terms(setup.engines["bundled"])) <= 20_000),
        ("bundled + external lexicon", setup.engines["ext"], False),
    ]
    pure = {id(engine): Engine(core.on_pure_python(engine.policy)) for _, engine, _ in configs}
    table = table_for(DEFAULT_PROFILE)
    rows = []
    for label, engine, slow_ones in configs:
        terms = _normalized_terms(engine)
        automaton = engine.policy.automaton
        compiled_rx = compiled_re = None
        rx_build = re_build = None
        if slow_ones:
            start = time.perf_counter()
            compiled_rx = _alternation(regex, terms)
            rx_build = time.perf_counter() - start
            start = time.perf_counter()
            compiled_re = _alternation(re, terms)
            re_build = time.perf_counter() - start
        for set_name in ("short_clean", "short_violating", "long_clean"):
            items = texts.sets[set_name]
            items = items[:sizes.side_posts] if set_name.startswith("short") else items[:max(2, sizes.side_posts // 20)]
            normalized = [normalize(t, table) for t in items]
            enc = [n.encode("utf-8", "surrogatepass").decode("latin-1") for n in normalized]
            kw = {"warmup": sizes.warmup, "repeat": sizes.side_repeat * (3 if set_name.startswith("short") else 1)}
            row = {
                "lexicon": label, "terms": len(terms), "texts": set_name, "posts": len(items),
                "engine": engine_timing(engine, items, sizes, repeat=kw["repeat"]),
                "engine_pure": engine_timing(pure[id(engine)], items, sizes, repeat=kw["repeat"]),
                "automaton": time_each(lambda s, a=automaton: list(a.iter(s)), enc, **kw),
                "normalize+automaton": time_each(lambda t, a=automaton: list(a.iter(
                    normalize(t, table).encode("utf-8", "surrogatepass").decode("latin-1"))), items, **kw),
                "regex_build_s": rx_build,
                "re_build_s": re_build,
            }
            if slow_ones:
                slow = {"warmup": 1, "repeat": 1}
                row["regex"] = time_each(lambda s, r=compiled_rx: r.findall(s), normalized, **slow)
                row["re"] = time_each(lambda s, r=compiled_re: r.findall(s), normalized, **slow)
                row["loop"] = time_each(lambda s, ts=terms: [t for t in ts if t in s], normalized, **slow)
            rows.append(row)
    return rows


_SCAN = "import sys; from policy.cli import main; sys.exit(main(sys.argv[1:]))"


def _timed_scans(files: Sequence[Path], cache: Path, pure: bool) -> float:
    """Wall seconds of one ``policy scan --format json`` process per file, run at once, verdicts to
    /dev/null."""
    env = {**os.environ, core.PURE_PYTHON_ENV: "1" if pure else "0"}
    started = time.perf_counter()
    running = [subprocess.Popen([sys.executable, "-c", _SCAN, "scan", "--format", "json", "--cache", str(cache),
                                 str(f)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                                cwd=Path(__file__).resolve().parents[1]) for f in files]
    for process in running:
        _, err = process.communicate()
        if process.returncode not in (0, 1):  # 1: some post was flagged
            raise RuntimeError(f"policy scan failed: {err.decode(errors='replace')}")
    return time.perf_counter() - started


def measure_scan(work: Path, sizes: Sizes, texts: Texts) -> dict:
    """``policy scan`` end to end on short comments (the clean pool, again under new ids past its
    size), one process and two at once on halves, on each path; and one post, for the start-up."""
    pool = [t for t in texts.clean_pool if 0 < len(t) <= 200] or texts.sets["short_clean"]
    lines = [json.dumps({"id": f"p{i}", "user_id": f"u{i % 500}", "body": pool[i % len(pool)]}, ensure_ascii=False)
             for i in range(sizes.scan_posts)]
    whole, one = work / "scan_all.jsonl", work / "scan_one.jsonl"
    halves = [work / "scan_half1.jsonl", work / "scan_half2.jsonl"]
    whole.write_text("\n".join(lines) + "\n", encoding="utf-8")
    one.write_text(lines[0] + "\n", encoding="utf-8")
    middle = len(lines) // 2
    for path, part in zip(halves, (lines[:middle], lines[middle:]), strict=True):
        path.write_text("\n".join(part) + "\n", encoding="utf-8")
    cache = work / "scan_cache"
    _timed_scans([one], cache, False)  # fills the compile cache
    out = {"posts": len(lines)}
    for path_name, pure in (("pure", True), ("compiled", False)):
        if not pure and core.CORE is None:
            continue
        runs = [(_timed_scans([one], cache, pure), _timed_scans([whole], cache, pure),
                 _timed_scans(halves, cache, pure)) for _ in range(sizes.loads // 2 + 1)]
        start, single, two = (statistics.median(r[i] for r in runs) for i in range(3))
        out[path_name] = {"start_s": start, "one_s": single, "two_s": two}
    return out


# ---- the report ------------------------------------------------------------------------------------

def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_state() -> str:
    """The commit measured, and whether the engine or the convention differ from it."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%h %cI"], capture_output=True,
                              text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "policy", "conventions"],
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return f"{head}" + (" with uncommitted changes to policy/ or conventions/" if dirty else ", clean")


def machine_info() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "Python": platform.python_version(),
        **{name: _version(name) for name in ("lark", "regex", "opencc", "pyahocorasick", "policy-engine")},
        "engine code": _git_state(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _us(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _t(timing: Timing) -> str:
    return f"{_us(timing.median_us)} / {_us(timing.p99_us)}"


def _rate(value: float) -> str:
    return f"{value:,.0f}"


def _ratio(value: float) -> str:
    return f"{value:.2f}×" if value < 10 else f"{value:,.0f}×"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def targets(results: dict) -> list[tuple[str, str, str, str]]:
    """The compiled core's targets: (target, pure Python, compiled, met on the compiled path)."""
    e2e, one_off, side, scan = results["end_to_end"], results["one_off"], results["side_by_side"], results["scan"]
    t = TARGETS
    compiled = results["compiled"]
    rows = []

    def rate_row(label: str, key: tuple[str, str], goal: float) -> tuple[str, str, str, str]:
        r = e2e[key]
        new = r["timing"].per_second if compiled else None
        return (f"{label}: ≥ {goal:,} checks/s on one core", _rate(r["pure"].per_second),
                _rate(new) if new is not None else "—", _met(new is not None and new >= goal))

    rows.append(rate_row("short clean comments, bundled convention", ("bundled", "short_clean"), t["short_clean"]))
    rows.append(rate_row("short violating comments, bundled convention", ("bundled", "short_violating"),
                         t["short_violating"]))
    rows.append(rate_row("short clean comments, with the 64k lexicon beside it", ("ext", "short_clean"),
                         t["short_ext_clean"]))
    for row in side:
        if row["lexicon"] == "bundled convention" and row["texts"] == "short_clean":
            floor = row["automaton"].median_ns
            pure, new = row["engine_pure"].median_ns / floor, row["engine"].median_ns / floor
            rows.append((f"check() of a short clean post ≤ {t['floor_ratio']:.0f}× pyahocorasick's scan of it "
                         "(same terms, side by side)", _ratio(pure), _ratio(new) if compiled else "—",
                         _met(compiled and new <= t["floor_ratio"])))
    rows.append(rate_row(f"{results['sizes'].long_chars:,}-character clean posts, bundled convention",
                         ("bundled", "long_clean"), t["long_clean"]))
    posts = scan["posts"]

    def scan_cells(key: str) -> tuple[str, float | None]:
        if key not in scan:
            return "—", None
        r = scan[key]
        rate = posts / r["one_s"]
        return f"{_rate(rate)} ({_rate(posts / max(r['one_s'] - r['start_s'], 1e-9))} past start-up)", rate

    (pure_cell, _), (new_cell, new_rate) = scan_cells("pure"), scan_cells("compiled")
    rows.append((f"`policy scan` end to end, {posts:,} short comments: ≥ {t['scan_posts_s']:,} posts/s on one "
                 "process", pure_cell, new_cell, _met(new_rate is not None and new_rate >= t["scan_posts_s"])))

    def two_cell(key: str) -> tuple[str, float | None]:
        if key not in scan:
            return "—", None
        r = scan[key]
        past = (r["one_s"] - r["start_s"]) / max(r["two_s"] - r["start_s"], 1e-9)
        return f"{_ratio(r['one_s'] / r['two_s'])} one process ({_ratio(past)} past start-up)", past

    (pure_cell, _), (new_cell, speedup) = two_cell("pure"), two_cell("compiled")
    rows.append((f"`policy scan` on two processes at once (halves): near-linear, ≥ {t['scan_two']}× one past "
                 "start-up",
                 pure_cell, new_cell, _met(speedup is not None and speedup >= t["scan_two"])))
    ext = one_off["ext"]
    ms = ext["cache_s"] * 1000
    rows.append((f"cached load of the {results['ext_count']:,}-term policy, scanners made: < {t['cache_ms']:.0f} ms",
                 "(the same load)", f"{ms:,.0f} ms", _met(compiled and ms < t["cache_ms"])))
    for name, label in (("bundled", "bundled convention"), ("ext", "with the external lexicon")):
        old, new = one_off[name]["pure_memory"]["rss"], one_off[name]["memory"]["rss"]
        rows.append((f"resident memory after load and a check ({label}): no higher than pure Python's",
                     f"{old:.0f} MB", f"{new:.0f} MB" if compiled else "—", _met(compiled and new <= old + 1)))
    return rows


def render(results: dict) -> str:
    sizes: Sizes = results["sizes"]
    lines = [f"# Benchmark report: {results['mode']} run", ""]
    lines += [f"Texts: **{results['texts_source']}**"
              + (" (COLD dev label 0 = clean, ChineseHarm dev positives = violating; short = 50–200 characters; "
                 f"long = posts of the same set joined by line breaks to {sizes.long_chars:,} characters)"
                 if results["texts_source"] == "real" else
                 f" (fixed seed {SEED}: characters of the bundled rule files; violating posts carry a strong "
                 "insult of the bundled abuse lexicon)") + ".",
              f"External lexicon: {results['ext_source']}.",
              "Times are per call in microseconds, **median / p99** over every call (time.perf_counter_ns, after a "
              "warm-up); posts/s is 1 / mean time, one core, in one process. The machine is shared, so figures move "
              "by about 10% between runs.", ""]
    lines += ["## Machine", ""]
    lines += _table(["", ""], list(results["machine"].items())) + [""]

    lines += ["## Targets", "",
              f"The compiled per-post core's targets (issue 19), each measured on both per-post paths in this run "
              f"(this process runs: {results['path']}); *met* is the compiled path's. RSS within 1 MB counts as "
              "no higher.", ""]
    lines += _table(["target", "pure Python", "compiled", "met"], targets(results)) + [""]

    lines += ["## End to end", "",
              "`Engine.check()` of `{id, body}` posts; the share flagged is of the posts as labelled, by this engine; "
              "*rules tested* is how many of the policy's rules a post wakes on average (the others are skipped "
              "by their triggers without being evaluated). Each path's median / p99 µs and posts/s; the ratio is "
              "pure Python's median over the compiled one's.", ""]
    rows = []
    compiled = results["compiled"]
    for (name, set_name), r in results["end_to_end"].items():
        label = "bundled convention" if name == "bundled" else "bundled + external lexicon"
        new, old = r["timing"], r["pure"]
        rows.append([label, SET_TITLES[set_name], r["posts"], f"{r['chars']:,.0f}", f"{r['flagged']:.0%}",
                     f"{r['rules_tested']:.2f}", _t(old), _rate(old.per_second),
                     _t(new) if compiled else "—", _rate(new.per_second) if compiled else "—",
                     _ratio(old.median_ns / new.median_ns) if compiled else "—"])
    lines += _table(["policy", "posts", "n", "mean chars", "flagged", "rules tested", "pure Python µs",
                     "pure posts/s", "compiled µs", "compiled posts/s", "ratio"], rows)
    lines += [""]

    lines += ["## Parts", "",
              "Each part on its own, median / p99 µs per post. *normalize*: "
              "`normalize(text, table_for(DEFAULT_PROFILE))`; *raw_scan*: `policy.runtime.match.raw_scan` "
              "(normalize + encode + automaton); *automaton*: the engine's "
              "pyahocorasick automaton over the already normalized, encoded text; *rule evaluation*: median of "
              "`check()` minus median of `raw_scan` (picking rules, conditions, refining hits, evidence, building "
              "the verdict: everything but the scan); *to_json*: `verdict.to_json()`.", ""]
    head = ["policy", "part"] + [SET_TITLES[s] for s in results["set_names"]]
    rows = []
    for name in ("bundled", "ext"):
        label = "bundled" if name == "bundled" else "+ external"
        parts = {s: results["parts"][(name, s)] for s in results["set_names"]}
        for part in ("check", "normalize", "raw_scan", "automaton", "to_json"):
            rows.append([label, part] + [_t(parts[s][part]) for s in results["set_names"]])
        rows.append([label, "rule evaluation (check − raw_scan)"]
                    + [_us(parts[s]["check"].median_us - parts[s]["raw_scan"].median_us)
                       for s in results["set_names"]])
    lines += _table(head, rows) + [""]

    lines += ["## Where check() spends its time", "",
              "The bundled convention; `check()` done stage by stage (`benchmarks.compare.staged_check`: the "
              "same calls in the same order, a clock read between stages), mean µs per post, pure Python → "
              f"{results['path']}, and the latter's share of the stages' sum. The last rows give `check()` itself "
              "over the same posts (mean µs, the path that runs) for comparison. "
              "Stages: " + "; ".join(f"*{name}*: {what}" for name, what in STAGES) + ".", ""]
    stages = results["stages"]
    rows = []
    for i, (name, _) in enumerate(STAGES):
        rows.append([name] + [f"{_us(stages[s]['pure'][i])} → {_us(stages[s]['stages'][i])} "
                              f"({stages[s]['stages'][i] / sum(stages[s]['stages']):.0%})"
                              for s in results["set_names"]])
    rows.append(["sum of the stages"] + [f"{_us(sum(stages[s]['pure']))} → {_us(sum(stages[s]['stages']))}"
                                         for s in results["set_names"]])
    rows.append(["check() (mean)"] + [_us(stages[s]["check"].mean_ns / 1000) for s in results["set_names"]])
    lines += _table(["stage"] + [SET_TITLES[s] for s in results["set_names"]], rows) + [""]
    lines += ["The floor under `check()` (`benchmarks.compare.primitives_of`): the C calls it makes on every "
              "post, back to back with no Python logic between them (normalize, the main automaton, the "
              "original-text literal automaton, the verdict's clock), median µs; what Python code built on "
              "these primitives pays at the least. *Automaton alone* is the *automaton* part above, the "
              "denominator of the 2.5× target.", ""]
    rows = []
    floors = {s: stages[s]["floor"] for s in results["set_names"]}
    automaton = {s: results["parts"][("bundled", s)]["automaton"] for s in results["set_names"]}
    checks = {s: results["parts"][("bundled", s)]["check"] for s in results["set_names"]}
    rows.append(["the primitives, back to back (median µs)"] + [_t(floors[s]) for s in results["set_names"]])
    rows.append(["… as a share of check() (medians)"]
                + [f"{floors[s].median_ns / checks[s].median_ns:.0%}" for s in results["set_names"]])
    rows.append(["… times the automaton alone (medians)"]
                + [_ratio(floors[s].median_ns / automaton[s].median_ns) for s in results["set_names"]])
    rows.append(["posts/s if everything else were free"] + [_rate(floors[s].per_second) for s in results["set_names"]])
    lines += _table(["floor", *[SET_TITLES[s] for s in results["set_names"]]], rows) + [""]

    lines += ["## One-off costs", "",
              "*build*: `policy.compiler.build.build` (read, parse, check, compile) from scratch, median of "
              f"{sizes.builds}; *cached load*: the second `Engine.load(path, cache_dir=…)` and making the "
              f"scanners of the path that runs, median of {sizes.loads}; "
              "*RSS*: a fresh interpreter's VmRSS after `import policy` and after the cached load and one check "
              "(VmHWM is its peak).", ""]
    rows = []
    for name, r in results["one_off"].items():
        label = "bundled convention" if name == "bundled" else f"bundled + {results['ext_count']:,}-term lexicon"
        m = r["memory"]
        p = r["pure_memory"]
        rows.append([label, f"{r['build_s']:.2f}", f"{r['cache_s'] * 1000:,.0f}", f"{m['base']:.0f}",
                     f"{p['rss']:.0f} / {m['rss']:.0f}", f"{p['hwm']:.0f} / {m['hwm']:.0f}"])
    lines += _table(["policy", "build s", "cached load ms", "RSS after import MB",
                     "RSS after load MB (pure / compiled)", "VmHWM MB (pure / compiled)"], rows) + [""]

    lines += ["## Growth: lexicon size", "",
              "A policy of one generated lexicon (random CJK terms of 2–4 characters) and one rule, without the "
              "convention. Scan = `raw_scan`; check on short clean posts.", ""]
    rows = []
    for r in results["lexicon_growth"]:
        m = r["memory"]
        rows.append([f"{r['terms']:,}", f"{r['build_s']:.2f}", f"{r['cache_s'] * 1000:,.0f}",
                     f"{m['rss']:.0f} (+{m['rss'] - m['base']:.0f})", _t(r["scan_short"]), _t(r["scan_long"]),
                     _t(r["check_short"])])
    lines += _table(["terms", "build s", "cached load ms", "RSS MB (over import)", "scan short µs",
                     f"scan long ({sizes.long_chars:,} chars) µs", "check short µs"], rows) + [""]

    lines += ["## Growth: post length", "",
              "Clean posts joined to the length; median / p99 µs per check, and µs per 1,000 characters.", ""]
    rows = []
    for r in results["post_growth"]:
        k = r["chars"] / 1000
        rows.append([f"{r['chars']:,}", r["posts"], _t(r["bundled"]), _us(r["bundled"].median_us / k),
                     _t(r["ext"]), _us(r["ext"].median_us / k), _t(r["scan"])])
    lines += _table(["chars", "posts", "check bundled µs", "per 1k chars", "check + external µs", "per 1k chars",
                     "raw_scan (bundled) µs"], rows) + [""]

    lines += ["## Growth: rule count", "",
              "Generated policies of N rules, each on its own lexicon of three generated terms (a third also need "
              "the previous rule's lexicon, a third are skipped when a shared guard lexicon hits). Short clean posts, "
              "and the same posts with one of the rules' terms inserted.", ""]
    rows = [[f"{r['rules']:,}", f"{r['build_s']:.2f}", _t(r["clean"]), _t(r["hits"]), f"{r['flagged']:.0%}"]
            for r in results["rule_growth"]]
    lines += _table(["rules", "build s", "check clean µs", "check with a hit µs", "flagged (with a hit)"], rows)
    lines += [""]

    lines += ["## Side by side", "",
              "Same texts, same (normalized) terms, same process. *check()*: on the path that runs; *check() pure "
              "Python*: the same policy on the pure-Python path; *automaton*: the engine's own pyahocorasick "
              "automaton over the normalized text (the floor the engine adds work to); *normalize + automaton*: the "
              "same, normalization included; *regex*: `regex` alternation of the terms (longest first), `findall` "
              "over the normalized text; *re*: the same alternation in the standard library's `re` (what "
              "Python rule-file moderators such as AutoModerator use); *loop*: `[t for t in terms if t in text]`. "
              "The external terms are a seeded random sample of the external lexicon (a sorted file's first "
              "terms share their first characters, which flatters the alternations). Each cell: median µs "
              "(ratio to `check()`; below 1 is faster than the engine). Regex and loop only where the lexicon is "
              "small enough to run them (a 64k alternation takes about a second per post).", ""]
    rows = []
    for r in results["side_by_side"]:
        e = r["engine"].median_ns

        def cell(key: str, r=r, e=e) -> str:
            if key not in r:
                return "—"
            return f"{_us(r[key].median_us)} ({_ratio(r[key].median_ns / e)})"

        rows.append([r["lexicon"], f"{r['terms']:,}", SET_TITLES[r["texts"]], r["posts"], _us(r["engine"].median_us),
                     cell("engine_pure"), cell("automaton"), cell("normalize+automaton"), cell("regex"), cell("re"),
                     cell("loop")])
    lines += _table(["lexicon", "terms", "texts", "posts", "check() µs", "check() pure Python", "automaton",
                     "normalize + automaton",
                     "regex alternation", "re alternation", "substring loop"], rows)
    builds = [r for r in results["side_by_side"] if r.get("regex_build_s")]
    if builds:
        lines += ["", "Alternation compile time (`regex` / `re`): " + "; ".join(
            f"{r['lexicon']} ({r['terms']:,} terms) {r['regex_build_s']:.2f} s / {r['re_build_s']:.2f} s"
            for r in {r['lexicon']: r for r in builds}.values()) + "."]
    lines += ["", "## policy scan end to end", "",
              f"`policy scan --format json FILE --cache DIR` in fresh processes, {results['scan']['posts']:,} short "
              "clean comments as JSON lines (the clean pool again under new ids past its size), verdict lines to "
              "/dev/null, warm compile cache; wall time, median of the runs. *Two processes*: the file's halves "
              "in two processes at once. *Start-up*: the same command on one post (import, cached load); *past "
              "start-up* takes it off each process's time.", ""]
    rows = []
    scan = results["scan"]
    for key, label in (("pure", "pure Python"), ("compiled", "compiled")):
        if key not in scan:
            rows.append([label, "—", "—", "—", "—", "—", "—", "—"])
            continue
        r, n = scan[key], scan["posts"]
        start = r["start_s"]
        rows.append([label, f"{start:.2f}", f"{r['one_s']:.2f}", _rate(n / r["one_s"]),
                     _rate(n / max(r["one_s"] - start, 1e-9)), f"{r['two_s']:.2f}", _rate(n / r["two_s"]),
                     _ratio((r["one_s"] - start) / max(r["two_s"] - start, 1e-9))])
    lines += _table(["path", "start-up s", "one process s", "posts/s", "posts/s past start-up", "two processes s",
                     "posts/s", "speed-up past start-up"], rows)
    lines += ["", f"Whole run: {results['elapsed_s']:.0f} s."]
    return "\n".join(lines) + "\n"


def run(sizes: Sizes, data: Path | None, mode: str, progress: Callable[[str], None] = lambda s: None) -> dict:
    started = time.perf_counter()
    texts = load_texts(sizes, data)
    with tempfile.TemporaryDirectory(prefix="policy-bench-") as tmp:
        work = Path(tmp)
        progress("loading policies")
        setup = make_setup(work, sizes, data)
        results: dict = {"mode": mode, "sizes": sizes, "machine": machine_info(), "texts_source": texts.source,
                         "compiled": core.CORE is not None, "path": core.PATH,
                         "ext_source": setup.ext_source, "ext_count": len(setup.ext_terms),
                         "set_names": list(texts.sets)}
        steps = (
            ("end_to_end", lambda: measure_end_to_end(setup, texts, sizes)),
            ("parts", lambda: measure_parts(setup, texts, sizes)),
            ("stages", lambda: measure_stages(setup, texts, sizes)),
            ("one_off", lambda: measure_one_off(setup, work, sizes)),
            ("lexicon_growth", lambda: measure_lexicon_growth(work, sizes, texts)),
            ("post_growth", lambda: measure_post_growth(setup, sizes, texts)),
            ("rule_growth", lambda: measure_rule_growth(work, sizes, texts)),
            ("side_by_side", lambda: measure_side_by_side(setup, work, sizes, texts)),
            ("scan", lambda: measure_scan(work, sizes, texts)),
        )
        for key, step in steps:
            start = time.perf_counter()
            results[key] = step()
            progress(f"{key}: {time.perf_counter() - start:.1f} s")
    results["elapsed_s"] = time.perf_counter() - started
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: finishes in under a minute")
    parser.add_argument("--out", type=Path, help="write the Markdown report here (default: stdout)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="development data folder, read when present (default: %(default)s)")
    parser.add_argument("--no-data", action="store_true", help="ignore the data folder: generated text and terms")
    args = parser.parse_args(argv)
    data = None if args.no_data or not args.data.is_dir() else args.data
    sizes = QUICK if args.quick else FULL
    results = run(sizes, data, "quick" if args.quick else "full",
                  progress=lambda s: print(s, file=sys.stderr, flush=True))
    report = render(results)
    if args.out:
        args.out.write_text(report, encoding="utf-8")
        print(f"report written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(report)
    return 0


__all__ = ["FULL", "QUICK", "TINY", "TABLES", "Sizes", "main", "render", "run"]

if __name__ == "__main__":
    sys.exit(main())
