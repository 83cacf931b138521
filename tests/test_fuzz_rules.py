"""Hostile rule files: the whole front end (parse -> check -> compile -> checking posts) never
raises anything but its own diagnostics.

Inputs come three ways: rule files generated from the grammar's shapes (`generated`), the bundled
rule files mutated at random (`mutated`: flips, deletions, duplications, lines spliced from other
files, inserted tokens and unicode, truncation), and random text (`random`).  The property, for
every input: the front end returns diagnostics with a known code and a span inside the file they
name, or, when there is no error, a compiled policy; a compiled policy then checks a few posts
(its own examples among them) and renders their verdicts.  Nothing else may happen.

A seeded sample runs in `make test`; `make test-slow` runs a million inputs over every core and
prints its figures (`FUZZ_INPUTS`, `FUZZ_SEED`, `FUZZ_WORKERS` change the run).  A failure names
its seed and number; ``make_input(seed, number)`` rebuilds the input, and each bug found this way
has its own example test below.

Also here: nesting of any depth, refused with E601 and no RecursionError, and a corpus of
catastrophic regexes, each refused at load (E301/E302) or cut off by the per-match timeout.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import random
import re
import signal
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import policy
from policy.compiler.compile import compile_policy, version_of
from policy.compiler.compiled import CompiledPolicy
from policy.engine import Engine, build
from policy.lang import syntax as s
from policy.lang.check import TermFileText, check
from policy.lang.diagnostics import ERROR, WARNING, Diagnostic
from policy.lang.parse import MAX_DEPTH, parse
from policy.lang.resources import bundled_convention
from policy.lang.sources import PolicySources, SourceError, read_term_files
from policy.model.sanction import Strike
from policy.text.normalize import STEPS

from .conftest import HEADER, write_policy

BUNDLED = bundled_convention()
SOURCES: dict[str, str] = {p.name: p.read_text(encoding="utf-8") for p in sorted(BUNDLED.glob("*.policy"))}
LEXICON_FILES: dict[str, str] = {f"lexicons/{p.name}": p.read_text(encoding="utf-8")
                                 for p in sorted((BUNDLED / "lexicons").glob("*.txt"))}


def _known_codes() -> frozenset[str]:
    """Every diagnostic code the package can emit (the README's table lists them)."""
    found: set[str] = set()
    for file in Path(policy.__file__).parent.rglob("*.py"):
        found.update(re.findall(r"""["']([EW]\d{3})["']""", file.read_text(encoding="utf-8")))
    return frozenset(found)


KNOWN_CODES = _known_codes()

# ---- the front end, in memory ------------------------------------------------------------------

ROOT = Path("/fuzz")
"""Where the fuzzed files pretend to live; nothing is read from or written to it."""

HOSTILE_TERM_FILES: dict[str, str | None] = {
    "hostile/empty.txt": "",
    "hostile/comments.txt": "# nothing but comments\n   # indented\n\n\t\n",
    "hostile/tags.txt": "傻逼\tstrong,,weak\t\t\nsb\t\nvx\t,\n\t\n \t x\n废物\t标签 t2\n",
    "hostile/crlf.txt": "傻逼\r\nsb\r\n\r\n\r",
    "hostile/line_breaks.txt": "傻\u2028逼\n\u2029\nsb\x0bvx\x0cqq\x1c\x1d\x1e\x85end\n",
    "hostile/symbols.txt": "🐶\n!!!\n   \n母🐶\n\u200b\n\ufeff\n\u0301\n",
    "hostile/long.txt": "啊" * 20_000 + "\n" + "x" * 5_000 + "\n",
    "hostile/bom.txt": "\ufeff傻逼\nsb\n",
    "hostile/nul.txt": "a\x00b\n\x00\n",
    "hostile/dup.txt": "sb\nSB\nＳＢ\ns b\nsb\tstrong\n",
    "hostile/unreadable.txt": None,  # what the loader reports for a file that is not UTF-8 or is a folder
}
TERM_FILES: dict[str, str | None] = {**LEXICON_FILES, **HOSTILE_TERM_FILES}


def term_files_for(files: list[s.PolicyFile], term_texts: dict[str, str | None] = TERM_FILES,
                   ) -> dict[tuple[str, str], TermFileText]:
    """What ``sources.read_term_files`` gives when the files are in memory: the bundled lexicons,
    the hostile term files above, and "no such file" for anything else."""
    root = ROOT.as_posix() + "/"

    def read(path: Path) -> str:
        display = path.as_posix()
        relative = display[len(root):] if display.startswith(root) else None
        if relative not in term_texts:
            raise SourceError(f"{display}: no such file", "no such file")
        text = term_texts[relative]
        if text is None:
            raise SourceError(f"{display}: not UTF-8 text (byte 0)", "not UTF-8 text (byte 0)")
        return text

    return read_term_files(files, read)


@functools.cache
def parsed_bundled(name: str) -> s.PolicyFile:
    """A bundled file parsed once (trees are immutable, so inputs can share them)."""
    tree, problems = parse(SOURCES[name], (ROOT / name).as_posix())
    assert problems == []
    return tree


@functools.cache
def parsed_header() -> s.PolicyFile:
    tree, problems = parse(HEADER, (ROOT / "header.policy").as_posix())
    assert problems == []
    return tree


CHECKED_AT = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
HISTORY = (Strike("old-1", "v-1", "some.rule", 2, CHECKED_AT - timedelta(days=3)),
           Strike("old-2", "v-2", "some.rule", 1, CHECKED_AT - timedelta(days=400)))
WORDS = ["傻逼", "sb", "Ｓ Ｂ", "傻@逼", "微信", "vx", "加v", "abc123456", "代发", "刷单", "震惊", "!!!", "赌博",
         "http://x.com/a", "@某人", "13812345678", "aaaaaaaaaaaa", "傻得可爱", "一二三", "🐶", "ß", "\u200b"]


@dataclass
class Outcome:
    diagnostics: list[Diagnostic]
    texts: dict[str, str]
    """Every text a diagnostic may point into, by path."""
    compiled: bool = False
    verdicts: int = 0
    policy: CompiledPolicy | None = None
    terms: list[str] = field(default_factory=list)
    """A few terms of each lexicon, for the posts to hit."""

    @property
    def errors(self) -> list[str]:
        return [d.code for d in self.diagnostics if d.is_error]


def load(texts: dict[str, str], context: tuple[s.PolicyFile, ...] = (),
         term_texts: dict[str, str | None] = TERM_FILES) -> Outcome:
    """Parse, check and (when error-free) compile, the way ``engine.build`` does, in memory."""
    sources = PolicySources(ROOT, {(ROOT / name).as_posix(): text for name, text in texts.items()})
    files: list[s.PolicyFile] = list(context)
    diagnostics: list[Diagnostic] = []
    for display, text in sources.texts.items():
        parsed, found = parse(text, display)
        files.append(parsed)
        diagnostics.extend(found)
    term_files = term_files_for(files, term_texts)
    known = {ctx.path: SOURCES.get(Path(ctx.path).name, HEADER) for ctx in context}
    known.update(sources.texts)
    known.update({t.path: t.text for t in term_files.values() if t.text is not None})
    checked, found = check(files, term_files)
    diagnostics.extend(found)
    outcome = Outcome(diagnostics, known)
    if any(d.is_error for d in diagnostics):
        return outcome
    hashed = [(sources.relative(p), t) for p, t in known.items()]
    outcome.policy = compile_policy(checked, version_of(hashed))
    outcome.compiled = True
    outcome.terms = [term.text for lex in checked.lexicons.values() for term in lex.terms[:3]]
    return outcome


def front_end(texts: dict[str, str], context: tuple[s.PolicyFile, ...] = (), regex_timeout: float = 0.02,
              ) -> Outcome:
    """The whole front end: load, then check a few posts (the policy's own examples among them)."""
    outcome = load(texts, context)
    compiled = outcome.policy
    if compiled is None:
        return outcome
    engine = Engine(compiled, regex_timeout=regex_timeout)
    body = " ".join(WORDS + outcome.terms)
    posts: list[dict] = [
        {"id": "fuzz-1", "title": "震惊！！！99%的人不知道", "body": body[:2_000],
         "author": {"id": "u1", "name": "官方客服", "bio": "加v abc123456", "account_age_days": 1, "followers": 0,
                    "protected": True, "verified": False, "linked_accounts": 3, "posts_last_hour": 40,
                    "similar_posts_24h": 9, "registration_cheat": True},
         "target": {"minor": True, "age": 12}, "images": 2},
        {"id": "fuzz-2", "body": ""},
    ]
    examples = [(rule, example) for rule in compiled.rules for example in rule.examples]
    for rule, example in examples[:3]:
        post: dict = {"id": f"{rule.id}#example"}
        post.update((name.text, value) for name, value in example.fields)
        posts.append(post)
    for post in posts:
        verdict = engine.check(post, checked_at=CHECKED_AT, history=HISTORY)
        verdict.to_json()
        outcome.verdicts += 1
    return outcome


def assert_sound(outcome: Outcome) -> None:
    """Only the project's own diagnostics, each pointing into a file it names."""
    for d in outcome.diagnostics:
        assert isinstance(d, Diagnostic), d
        assert d.code in KNOWN_CODES, d
        assert d.severity == (ERROR if d.code.startswith("E") else WARNING), d
        assert d.message and isinstance(d.message, str), d
        text = outcome.texts.get(d.span.path)
        assert text is not None, f"{d}: the span names no file of the policy"
        lines = text.split("\n")
        assert 1 <= d.span.line <= len(lines), f"{d}: line {d.span.line} outside the file"
        assert d.span.column >= 1, f"{d}: column {d.span.column}"
        d.render(text)
        d.as_dict()
    assert outcome.compiled == (not any(d.is_error for d in outcome.diagnostics))


# ---- inputs ----------------------------------------------------------------------------------

TOKENS = ["rule", "lexicon", "allow", "category", "clause", "convention", "ladder", "brake", "{", "}", "(", ")",
          "[", "]", ",", "when", "has", "and", "or", "not", "near", "within", "count", "distinct", "matches",
          "normalized", "length", "terms", "file", "tags", "normalize", "-", "match", "hits", "suppresses",
          "violates", "allows", "explain", "severity", "mode", "action", "sanction", "step", "start", "at",
          "escalate", "expire", "after", "factor", "raises", "hold", "confirm", "watch", "share", "minimum",
          "version", "source", "true", "false", '"傻逼"', '"x{evidence}"', '"unterminated', "/a+/i", "/(/", "/(a+)+$/",
          "一.2.6", "一", "body", "title", "author.protected", "links", "sanction.permanent", ">=", "==", "!=", "<",
          "3", "1.5", "0", "9" * 400, "\n", "#c\n", "@", '"\\q"', '"\\u0000"', '"\\uD800"', "\\", "/", "'", "“", "；"]
UNICODE = ["\x00", "\x01", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\xa0", "\u2028", "\u2029", "\u200b", "\u200d",
           "\u202e", "\ufeff", "\ufffd", "\u0301", "ǅ", "İ", "ß", "ﬀ", "Ω", "Ⅻ", "①", "１", "ｓ", "一", "們", "傻",
           "𝐅", "🐶", "👨‍👩‍👧", "\U000e0041", "\U0010ffff", "ﷺ", "\u0600", "\u1680", "\u3000", "…", "“", "”", "「"]
STRUCTURE = list('{}()[]",/\\#\n -') + ["and", "or", "not"]

NUMBERS = ["0", "1", "2", "3", "4", "5", "1.5", "0.0", "007", "40", "100", "180", "365", "36501", "800000",
           "99999999999", "1" + "0" * 30, "9" * 308, "9" * 400, "9" * 400 + ".5", "9" * 5_000]
TEXT_FIELDS = ["title", "body", "author.name", "author.bio"]
NUMBER_FIELDS = ["links", "mentions", "images", "author.account_age_days", "author.followers",
                 "author.posts_last_hour", "author.similar_posts_24h", "author.linked_accounts", "target.age"]
FLAG_FIELDS = ["author.protected", "author.verified", "target.minor", "author.registration_cheat"]
LADDER_FIELDS = ["sanction.permanent", "sanction.step", "rule.shadow", "rule.review", "rule.severity",
                 "verdict.unsure", "author.strikes"]
BAD_FIELDS = ["bodyy", "author", "target", "x.y.z", "一", "_"]
CMPS = [">=", "<=", "==", "!=", ">", "<"]
NORMALIZE = ["default", "all", "none", "default -repeats numerals", "default -separators", "width case", "-width",
             "none separators", " ".join(STEPS), "bogus", "default -bogus", "-"]
LEXICON_NAMES = ["abuse", "ads", "contact", "harmless", "词库", "x", "a.b", "_q"]
TAGS = ["strong", "weak", "wechat", "t1", "标签", "a.b"]
RULE_IDS = ["r", "spam.contact", "unfriendly.abuse", "a.b.c", "规则", "x_1"]
CATEGORIES = ["unfriendly", "spam", "nosuch"]
CLAUSES = ["一.2.6", "一.3.8", "一.2", "一", "一.9", "x"]
GOOD_STRINGS = ['"傻逼"', '"sb"', '"Ｓ Ｂ"', '"微信"', '"vx"', '"加v"', '"代发"', '"刷单"', '"a"', '"ß"', '"İ"',
                '"一二三"', '"①②"', '"𝐅𝐔𝐂𝐊"', '"саsh"', '"\\u4e00\\u4e8c"', '"傻得可爱"', '"震惊"', '"abc123456"']
HOSTILE_STRINGS = ['""', '" "', '"🐶"', '"母🐶"', '"\\u0000"', '"\\t"', '"\\""', '"\\\\"', '"\\uD800"', '"\\q"',
                   '"\\u12"', '"\\"', '"ﬀ"', '"\u0301"', '"a\u200db"', '"\u202e"', '"\ufeff"', '"\x00"', '"\x7f"',
                   '"\\n"', '"{"', '"}"', '"{{}}"', '"' + "啊" * 300 + '"', '"' + "x" * 1_000 + '"']
STRINGS = GOOD_STRINGS + HOSTILE_STRINGS
TEMPLATES = ['"{evidence}"', '"{title}：{evidence}"', '"{terms} {count} {rule} {category} {clauses}"', '"{"', '"}"',
             '"{{literal}}"', '"{bogus}"', '"{0}"', '"{}"', '"{evidence!r}"', '"{evidence!z}"', '"{evidence:>10}"',
             '"{evidence:d}"', '"{evidence:=10}"', '"{evidence:{count}}"', '"{evidence:{rule}}"',
             '"{evidence:{count:{rule}}}"', '"{evidence[0]}"', '"{evidence.upper}"', '"{count:,}"', '"{title:.1}"']
TERM_PATHS = ['"lexicons/abuse.txt"', '"lexicons/blackmarket.txt"', '"lexicons/slurs.txt"', '"missing.txt"', '""',
              '"/"', '"."', '".."', '"hostile"', '"../fuzz/lexicons/abuse.txt"', '"lexicons//abuse.txt"'] + [
              f'"{p}"' for p in HOSTILE_TERM_FILES]
FLAGS = ["", "", "", "i", "m", "s", "x", "imsx", "ii"]

# Regexes: the bundled ones, the catastrophic corpus below, and random ones.
BUNDLED_REGEXES = sorted({m.group(0) for text in SOURCES.values()
                          for m in re.finditer(r"(?<=matches )(?:normalized )?/(?:\\.|[^/\\\n])+/[imsx]*", text)})


@dataclass(frozen=True)
class Catastrophic:
    pattern: str
    why: str
    subject: str = "a" * 50_000 + "!"


CATASTROPHIC = [
    # nested quantifiers: every split of the a's between the two repeats is tried
    Catastrophic(r"(a+)+", "repeat inside a repeat; harmless unanchored, deadly as soon as anything must follow"),
    Catastrophic(r"(a+)+$", "the textbook case: 2^n ways to fail at the '!'"),
    Catastrophic(r"^(a+)+$", "OWASP's first example"),
    Catastrophic(r"(a*)*b", "star of a star, then a letter that is not there", "b" + "a" * 50_000 + "!"),
    Catastrophic(r"(a*)*$", "star of a star, anchored"),
    Catastrophic(r"(?:(?:a*)*)*$", "three stars deep"),
    Catastrophic(r"(x+x+)+y", "two adjacent repeats inside a repeat", "y" + "x" * 50_000),
    Catastrophic(r"([a-zA-Z]+)*", "a class repeat inside a repeat (OWASP)"),
    Catastrophic(r"([a-zA-Z]+)*$", "the same, anchored"),
    Catastrophic(r"([a-z]*)*$", "star of a class star"),
    Catastrophic(r"(\w+\s?)+$", "words and optional spaces: the optional separator makes the split ambiguous"),
    Catastrophic(r"^(\w+\s?)*$", "the same, from the literature on input validation"),
    Catastrophic(r"(\d+)*\d$", "digits then a digit", "1" * 50_000 + "!"),
    Catastrophic(r"^(\d+)+$", "digits, nested", "1" * 50_000 + "x"),
    Catastrophic(r"(.*a){20}", "twenty greedy wildcards that must each end in an a"),
    Catastrophic(r"(.*a){11}$", "the same with just over ten copies, anchored"),
    Catastrophic(r"(.*a){10}$", "ten copies: under the bounded-repeat threshold, left to the timeout"),
    Catastrophic(r"(.*){1,32000}[bc]", "a wildcard repeated thirty-two thousand times (Python's re docs)"),
    Catastrophic(r"(a?){30}a{30}", "optional a's then required ones (Russ Cox's example)", "a" * 30),
    # repeats over alternatives that overlap
    Catastrophic(r"(a|a)*", "identical alternatives"),
    Catastrophic(r"(?:a|a)+$", "identical alternatives, anchored"),
    Catastrophic(r"(a|aa)+", "an alternative that is a prefix of another"),
    Catastrophic(r"(a|aa)+$", "the same, anchored"),
    Catastrophic(r"(a|a?)+$", "an alternative that can be empty"),
    Catastrophic(r"(?:a|b|ab)*c", "alternatives that spell each other", "ab" * 25_000),
    Catastrophic(r"(ab|a)*$", "an alternative that is a prefix of another, anchored"),
    Catastrophic(r"(\w|\d)+$", "overlapping classes in an alternation", "1" * 50_000 + "!"),
    Catastrophic(r"(\s|\S)*x", "two classes that together match everything", "a b " * 12_500),
    Catastrophic(r"(.|\n)*!x", "a wildcard beside a newline"),
    Catastrophic(r"^(([a-z])+.)+[A-Z]([a-z])+$", "the Java class name validator from the ReDoS literature"),
    Catastrophic(r"^([a-zA-Z0-9])(([\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}(([a-z]{2,3})|([a-z]{2,3}"
                 r"[.]{1}[a-z]{2,3}))$", "an e-mail validator from the ReDoS literature"),
    Catastrophic(r"^[\s\u200c]+|[\s\u200c]+$", "the trim that took Stack Overflow down (quadratic)",
                 " " * 50_000 + "x"),
    Catastrophic(r"\s*$", "trailing whitespace, quadratic over every start", " " * 50_000 + "x"),
    Catastrophic(r"(?:(?:\"|'|\]|\}|\\|\d|(?:nan|infinity|true|false|null|undefined|symbol|math)|`|-|\+)+[)]*;?"
                 r"((?:\s|-|~|!|\{\}|\|\||\+)*.*(?:.*=.*)))", "Cloudflare's 2019 WAF rule", "x=" * 25_000),
    # backreferences: the engine must try every length of the group
    Catastrophic(r"^(a+)\1*$", "a group repeated by backreference"),
    Catastrophic(r"(.+)\1+$", "any text repeated by backreference"),
    Catastrophic(r"(a*)\1*b", "a backreference to a star", "b" + "a" * 50_000),
    Catastrophic(r"((a+)\2)+$", "a backreference inside the repeated group"),
    Catastrophic(r"^(?:(a)|b)*\1$", "a backreference to a group that may not have matched"),
    # lookarounds
    Catastrophic(r"(?=(a+)+$)", "nested repeats inside a lookahead"),
    Catastrophic(r"(?<=(a+)+)b", "nested repeats inside a variable-length lookbehind (regex-only)", "a" * 50_000 + "b"),
    Catastrophic(r"(?:(?=a*)a)+$", "a lookahead repeated at every step"),
    Catastrophic(r"(?!(a+)+!)a", "nested repeats inside a negative lookahead"),
    Catastrophic(r"(?:a(?=(a*)+!))+x", "a repeat over a lookahead with nested repeats"),
    # huge counted repeats: the regex module copies the body once per required repetition
    Catastrophic(r"a{1000}{1000}", "a repeat of a repeat (a syntax error to the regex module)"),
    Catastrophic(r"(a{1000}){1000}", "a million required copies"),
    Catastrophic(r"(?:(?:(?:a{100}){100}){100}){100}", "a hundred million required copies"),
    Catastrophic(r"(?:x{65535}){65535}", "four billion required copies: gigabytes to compile"),
    Catastrophic(r"x{4294967294}", "the largest count the regex module takes: the machine's memory to compile"),
    Catastrophic(r"x{4294967295}", "one past it"),
    Catastrophic(r"(?:a{1,65535}){1,65535}", "huge bounds that require only one copy"),
    # regex-module features the load-time analysis cannot read
    Catastrophic(r"(?R)", "recursion into the whole pattern"),
    Catastrophic(r"(a(?1)?b)", "recursion into a group"),
    Catastrophic(r"((?R)|a)*", "a repeat over recursion"),
    Catastrophic(r"(?:abc){e<=3}", "fuzzy matching"),
    Catastrophic(r"(a+){e<=2}$", "fuzzy matching over a repeat"),
    Catastrophic(r"(?(DEFINE)(?<x>a+))(?&x)+$", "a repeat over a named subroutine"),
    Catastrophic(r"(?|(a)|(aa))+$", "branch reset over overlapping alternatives"),
    Catastrophic(r"(?V1)[[a-z]--[b]]+[[a-z]--[c]]+$", "set operations in two overlapping classes"),
    Catastrophic(r"(?r)a+$", "matching backwards"),
    Catastrophic(r"(a++)+$", "possessive inside a repeat"),
    Catastrophic(r"(?>a+)+$", "atomic inside a repeat"),
]


def random_regex(rng: random.Random, depth: int = 0) -> str:
    atoms = ["a", "b", "傻", "逼", ".", r"\d", r"\w", r"\s", r"\S", "[a-z]", "[^a]", "[0-9０-９]", r"\p{Han}",
             r"\b", "^", "$", r"\1", r"\2", r"\u4e00", r"\x41", r"\N{LATIN SMALL LETTER A}", "[", "(", ")", "{", "}",
             r"\/", r"\\", "|", "*", "?", "[]", "[^]", r"\k<x>", "(?P=x)", "(?#c)", r"\Z", r"\G", r"\X", "\u0301"]
    quantifiers = ["", "", "", "*", "+", "?", "*?", "+?", "++", "{2}", "{0,3}", "{3,}", "{,2}", "{1000}", "{2,1}",
                   "{65535}", "{e<=1}"]
    out = []
    for _ in range(rng.randint(1, 5)):
        roll = rng.random()
        if roll < 0.25 and depth < 4:
            opener = rng.choice(["(", "(?:", "(?P<x>", "(?=", "(?!", "(?<=", "(?<!", "(?>", "(?i:", "(?|"])
            inner = "|".join(random_regex(rng, depth + 1) for _ in range(rng.randint(1, 3)))
            out.append(opener + inner + ")" + rng.choice(quantifiers))
        else:
            out.append(rng.choice(atoms) + rng.choice(quantifiers))
    return "".join(out)


def hostile(rng: random.Random, weight: float = 1.0) -> bool:
    """Whether to make this part wrong: each generated file has its own share of wrong parts
    (``rng.bad``), from none (so that files reach the compiler and the engine) to many."""
    return rng.random() < getattr(rng, "bad", 0.08) * weight


def pick(rng: random.Random, good: list[str], bad: list[str], weight: float = 1.0) -> str:
    return rng.choice(bad if hostile(rng, weight) else good)


def regex_literal(rng: random.Random) -> str:
    if not hostile(rng, 5):
        return rng.choice(BUNDLED_REGEXES)
    pattern = rng.choice(CATASTROPHIC).pattern if rng.random() < 0.4 else random_regex(rng)
    return ("normalized " if rng.random() < 0.2 else "") + "/" + pattern + "/" + rng.choice(FLAGS)


def lexref(rng: random.Random, lexicons: list[str]) -> str:
    name = pick(rng, lexicons or LEXICON_NAMES, LEXICON_NAMES)
    if rng.random() < 0.25:
        name += "[" + ", ".join(rng.sample(TAGS, rng.randint(1, 2)) if hostile(rng, 3) else ["strong"]) + "]"
    return name


def predicate(rng: random.Random, lexicons: list[str], ladder: bool) -> str:
    text = lambda: pick(rng, TEXT_FIELDS, BAD_FIELDS + NUMBER_FIELDS)  # noqa: E731
    number = lambda: pick(rng, NUMBERS[:10], NUMBERS, 2)  # noqa: E731
    kind = rng.randrange(10) if lexicons or hostile(rng, 3) else rng.choice([2, 4, 5, 6, 7, 8, 9])
    if kind == 0:
        return f"{text()} has {lexref(rng, lexicons)}"
    if kind == 1:
        return f"{text()} has {lexref(rng, lexicons)} near {lexref(rng, lexicons)} within {number()}"
    if kind == 2:
        return f"{text()} matches {regex_literal(rng)}"
    if kind == 3:
        word = rng.choice(["count", "distinct"])
        return f"{word}({text()} has {lexref(rng, lexicons)}) {rng.choice(CMPS)} {number()}"
    if kind == 4:
        return f"count({text()} matches {regex_literal(rng)}) {rng.choice(CMPS)} {number()}"
    if kind == 5:
        return f"length({text()}) {rng.choice(CMPS)} {number()}"
    if kind == 9:
        kinds = "[" + ", ".join(rng.sample(["wechat", "qq", "phone", "url", "weixin"], rng.randint(1, 2))) + "]"
        return f"contacts({text()}){kinds if rng.random() < 0.3 else ''} {rng.choice(CMPS)} {number()}"
    if kind in (6, 7):
        fields = NUMBER_FIELDS + (LADDER_FIELDS[1::3] if ladder else [])
        return f"{pick(rng, fields, BAD_FIELDS + TEXT_FIELDS + LADDER_FIELDS)} {rng.choice(CMPS)} {number()}"
    fields = FLAG_FIELDS + (["sanction.permanent", "rule.shadow", "rule.review", "verdict.unsure"] if ladder else [])
    return pick(rng, fields, BAD_FIELDS + NUMBER_FIELDS + LADDER_FIELDS)


def condition(rng: random.Random, lexicons: list[str], ladder: bool = False, depth: int = 0) -> str:
    roll = rng.random()
    if depth > 4 or roll < 0.45:
        return predicate(rng, lexicons, ladder)
    if roll < 0.6:
        return "not " + condition(rng, lexicons, ladder, depth + 1)
    if roll < 0.7:
        return "(" + condition(rng, lexicons, ladder, depth + 1) + ")"
    op = rng.choice([" and ", " or "])
    return op.join(condition(rng, lexicons, ladder, depth + 1) for _ in range(rng.choice([2, 2, 3])))


def nested(rng: random.Random, cond: str) -> str:
    """Now and then a condition wrapped around the nesting limit."""
    if not hostile(rng, 0.5):
        return cond
    depth = rng.randint(MAX_DEPTH - 25, MAX_DEPTH + 20)
    opener = rng.choice(["(", "not ", "not (", "links > 1 and ("])
    return opener * depth + cond + ")" * (depth * opener.count("("))


def example(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return pick(rng, GOOD_STRINGS + ['"' + " ".join(rng.sample(WORDS[:14], 3)) + '"'], HOSTILE_STRINGS)
    fields = []
    for _ in range(rng.randint(0, 4)):
        roll = rng.randrange(3)
        name = rng.choice([TEXT_FIELDS, NUMBER_FIELDS, FLAG_FIELDS][roll])
        value = [pick(rng, GOOD_STRINGS, HOSTILE_STRINGS), rng.choice(NUMBERS[:12]), rng.choice(["true", "false"])][
            rng.randrange(3) if hostile(rng) else roll]
        fields.append(f"{pick(rng, [name], BAD_FIELDS + LADDER_FIELDS)} {value}")
    return "{ " + " ".join(fields) + " }"


def lexicon_decl(rng: random.Random, name: str, lexicons: list[str]) -> str:
    keyword = "allow" if rng.random() < 0.25 else "lexicon"
    lines = [f"{keyword} {name}" + (f" {pick(rng, GOOD_STRINGS, STRINGS)}" if rng.random() < 0.5 else "") + " {"]
    kinds = [0] * (not hostile(rng)) + [rng.randrange(9) for _ in range(rng.randint(0, 4))]
    if not hostile(rng, 3):
        kinds = list(dict.fromkeys(kinds))  # each setting once
    for kind in kinds:
        if kind < 3:
            terms = []
            for _ in range(rng.randint(1, 4)):
                term = pick(rng, GOOD_STRINGS, HOSTILE_STRINGS)
                if rng.random() < 0.3:
                    term += " [" + ", ".join(rng.sample(TAGS, rng.randint(1, 2))) + "]"
                terms.append(term)
            lines.append("  terms " + " ".join(terms))
        elif kind == 3:
            lines.append("  file " + pick(rng, TERM_PATHS[:3], TERM_PATHS, 5))
        elif kind == 4:
            lines.append("  tags " + " ".join(["strong"] + rng.sample(TAGS, rng.randint(0, 2))))
        elif kind == 5:
            lines.append("  normalize " + pick(rng, NORMALIZE[:9], NORMALIZE[9:]))
        elif kind == 6:
            lines.append("  match " + pick(rng, ["words", "substring"], ["bogus", "all"]))
        elif kind == 7:
            lines.append("  hits " + pick(rng, ["longest", "all"], ["bogus", "words"]))
        elif keyword == "allow" or hostile(rng):
            targets = LEXICON_NAMES if hostile(rng) or not lexicons else lexicons
            lines.append("  suppresses " + ", ".join(rng.sample(targets, rng.randint(1, min(2, len(targets))))))
    lines.append("}")
    return "\n".join(lines)


def rule_decl(rng: random.Random, lexicons: list[str], steps: list[str]) -> str:
    lines = [f"rule {rng.choice(RULE_IDS)} {pick(rng, GOOD_STRINGS, STRINGS)} {{"]
    settings = [
        lambda: "category " + pick(rng, CATEGORIES[:2], CATEGORIES),
        lambda: "clause " + ", ".join(rng.sample(CLAUSES[:4], rng.randint(1, 2)) if not hostile(rng)
                                      else rng.sample(CLAUSES, 2)),
        lambda: "severity " + pick(rng, ["1", "2", "3", "4"], NUMBERS),
        lambda: "tags " + " ".join(rng.sample(TAGS, rng.randint(1, 2))),
        lambda: "mode " + pick(rng, ["enforce", "shadow"], ["bogus"]),
        lambda: "action " + pick(rng, ["reject", "review"], ["bogus"]),
        lambda: "when " + nested(rng, condition(rng, lexicons)),
        lambda: "explain " + pick(rng, TEMPLATES[:3], TEMPLATES, 3),
        lambda: "violates " + example(rng),
        lambda: "allows " + example(rng),
        lambda: "sanction " + pick(rng, steps or ["mute_1d"], ["nosuch"]),
    ]
    chosen = [0, 1, 6] + rng.sample(range(2, len(settings) - (not steps)), rng.randint(0, 5))
    chosen += rng.choice([[], [8, 9, 8, 9], [8, 8, 8]])
    if hostile(rng):
        chosen = [rng.randrange(len(settings)) for _ in range(rng.randint(0, 6))]
    rng.shuffle(chosen)
    for index in dict.fromkeys(chosen) if not hostile(rng) else chosen:
        if index == 10 and rng.random() < 0.7:
            continue
        lines.append("  " + settings[index]())
    lines.append("}")
    return "\n".join(lines)


def ladder_decl(rng: random.Random, lexicons: list[str]) -> tuple[str, list[str]]:
    names = ["mute_1d", "mute_7d", "perm", "ban_it"]
    lines = ['ladder "违规处罚" {', "  clause " + pick(rng, CLAUSES[:4], CLAUSES)]
    steps = []
    for name in names[:rng.randint(0 if hostile(rng) else 1, 4)]:
        action = pick(rng, ["mute", "ban"], ["kick"])
        if action == "ban" and not hostile(rng):
            duration = ""
        else:
            duration = pick(rng, [f" {pick(rng, ['1', '7', '15'], NUMBERS, 2)} {pick(rng, ['day', 'days'], ['weeks'])}",
                                  " permanent"], [" forever", ""])
        lines.append(f"  step {name} {pick(rng, GOOD_STRINGS, STRINGS)} {action}{duration}")
        steps.append(name)
    severities = ["1", "2", "3", "4"] if not hostile(rng) else rng.sample(["1", "2", "3", "4", rng.choice(NUMBERS)], 2)
    for severity in severities:
        lines.append(f"  start severity {severity} at {pick(rng, steps or ['mute_1d'], ['nosuch'])}")
    for word in ("escalate within", "expire after"):
        if rng.random() < 0.7:
            lines.append(f"  {word} {pick(rng, ['7', '180', '365', '0.5'], NUMBERS, 2)} "
                         f"{pick(rng, ['days', 'day'], ['weeks'])}")
    for number in range(rng.randint(0, 2)):
        tags = " tags " + " ".join(rng.sample(TAGS, 1)) if rng.random() < 0.5 else ""
        when = " when " + condition(rng, lexicons, ladder=True) if not tags or rng.random() < 0.5 else ""
        lines.append(f"  factor f{number} {pick(rng, GOOD_STRINGS, STRINGS)} raises {pick(rng, ['1', '2'], NUMBERS)}"
                     f"{tags}{when}")
    for number in range(rng.randint(0, 2)):
        lines.append(f"  hold h{number} {pick(rng, GOOD_STRINGS, STRINGS)} when {condition(rng, lexicons, True)}")
    if rng.random() < 0.4:
        lines.append(f"  confirm {pick(rng, ['1', '2'], NUMBERS)} when {condition(rng, lexicons, ladder=True)}")
    lines.append("}")
    return "\n".join(lines), steps


def brake_decl(rng: random.Random) -> str:
    lines = ['brake "紧急制动" {']
    if not hostile(rng):
        lines.append(f"  watch {pick(rng, ['7', '1'], NUMBERS, 2)} {pick(rng, ['days'], ['hours'])}")
    if not hostile(rng):
        lines.append(f"  share {pick(rng, ['5', '0.5', '100'], NUMBERS, 2)}")
    if not hostile(rng):
        lines.append(f"  minimum {pick(rng, ['50', '1'], NUMBERS, 2)}")
    lines.append("}")
    return "\n".join(lines)


def generated(rng: random.Random) -> tuple[dict[str, str], tuple[s.PolicyFile, ...]]:
    """A rule file in the grammar's shapes: declarations of every kind, conditions nested a few
    levels, regexes, examples, a ladder and a brake, with a share of wrong parts."""
    rng.bad = rng.choice([0.0, 0.0, 0.01, 0.03, 0.08, 0.2])  # type: ignore[attr-defined]
    parts: list[str] = []
    context: tuple[s.PolicyFile, ...] = ()
    if not hostile(rng, 2):
        context = (parsed_header(),)
    else:
        parts.append(f'convention {pick(rng, GOOD_STRINGS, STRINGS)} {{ version "t" }}')
        for ident in rng.sample(CLAUSES, rng.randint(0, 4)):
            parts.append(f"clause {ident} {pick(rng, GOOD_STRINGS, STRINGS)}")
        for name in rng.sample(CATEGORIES, rng.randint(0, 2)):
            settings = f"clause {rng.choice(CLAUSES)} " if rng.random() < 0.8 else ""
            settings += f"severity {pick(rng, ['1', '2'], NUMBERS)}" if rng.random() < 0.8 else ""
            parts.append(f"category {name} {pick(rng, GOOD_STRINGS, STRINGS)} {{ {settings} }}")
    lexicons = rng.sample(LEXICON_NAMES, rng.randint(0, 3))
    for name in lexicons:
        parts.append(lexicon_decl(rng, name, lexicons))
    steps: list[str] = []
    if rng.random() < 0.3:
        text, steps = ladder_decl(rng, lexicons)
        parts.append(text)
    if rng.random() < 0.15:
        parts.append(brake_decl(rng))
    for _ in range(rng.randint(0, 3)):
        parts.append(rule_decl(rng, lexicons, steps))
    if parts and hostile(rng, 2):  # a declaration twice: a second ladder, brake or convention, a duplicate name
        parts.append(rng.choice(parts))
    rng.shuffle(parts)
    glue = rng.choice(["\n", "\n\n", "\n# a comment\n", "\r\n", "\n  \n"])
    return {"fuzz.policy": glue.join(parts) + rng.choice(["", "\n", "\n# end"])}, context


def mutate(rng: random.Random, text: str, operations: int) -> str:
    """Random edits: flips, deletions, duplications, spliced lines, tokens and unicode, truncation."""
    chars = list(text)
    for _ in range(operations):
        if not chars:
            chars = list(rng.choice(TOKENS))
        at = rng.randrange(len(chars))
        roll = rng.randrange(12)
        if roll == 0:  # flip a character
            chars[at] = rng.choice(STRUCTURE + UNICODE)
        elif roll == 1:  # flip a bit of one byte of the UTF-8 (an invalid sequence reads as U+FFFD)
            data = bytearray(chars[at].encode("utf-8", "surrogatepass"))
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            chars[at:at + 1] = list(data.decode("utf-8", "replace"))
        elif roll == 2:  # delete a run
            del chars[at:at + rng.randint(1, 40)]
        elif roll == 3:  # duplicate a run somewhere else
            run = chars[at:at + rng.randint(1, 80)]
            where = rng.randrange(len(chars) + 1)
            chars[where:where] = run
        elif roll == 4:  # splice in a line of another bundled file
            other = rng.choice(list(SOURCES.values())).split("\n")
            line = rng.choice(other) + "\n"
            where = rng.randrange(len(chars) + 1)
            while rng.random() < 0.7 and where > 0 and chars[where - 1] != "\n":
                where -= 1
            chars[where:where] = list(line)
        elif roll == 5:  # insert a token of the language
            chars[at:at] = list(" " + rng.choice(TOKENS) + " ")
        elif roll == 6:  # insert unicode
            chars[at:at] = [rng.choice(UNICODE) for _ in range(rng.randint(1, 3))]
        elif roll == 7:  # truncate
            del chars[at:]
        elif roll == 8:  # swap two lines
            joined = "".join(chars).split("\n")
            if len(joined) > 1:
                i, j = rng.randrange(len(joined)), rng.randrange(len(joined))
                joined[i], joined[j] = joined[j], joined[i]
            chars = list("\n".join(joined))
        elif roll == 9:  # a hostile number in place of a number
            joined = "".join(chars)
            found = list(re.finditer(r"\d+(\.\d+)?", joined))
            if found:
                m = rng.choice(found)
                joined = joined[:m.start()] + rng.choice(NUMBERS) + joined[m.end():]
            chars = list(joined)
        elif roll == 10:  # a hostile regex in place of a regex
            joined = "".join(chars)
            found = list(re.finditer(r"/(?:\\.|[^/\\\n])+/[imsx]*", joined))
            if found:
                m = rng.choice(found)
                joined = joined[:m.start()] + regex_literal(rng).removeprefix("normalized ") + joined[m.end():]
            chars = list(joined)
        else:  # a hostile string in place of a string
            joined = "".join(chars)
            found = list(re.finditer(r'"(?:\\.|[^"\\\n])*"', joined))
            if found:
                m = rng.choice(found)
                joined = joined[:m.start()] + rng.choice(STRINGS + TEMPLATES + TERM_PATHS) + joined[m.end():]
            chars = list(joined)
    return "".join(chars)


_DECLARATION = re.compile(r"^(?:convention|clause|category|lexicon|allow|rule|ladder|brake)\b", re.M)


@functools.cache
def declarations(name: str) -> list[str]:
    """A bundled file cut before each declaration (its comments go with the declaration after them)."""
    text = SOURCES[name]
    starts = [m.start() for m in _DECLARATION.finditer(text)]
    cuts = [0] + starts[1:] + [len(text)]
    return [text[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]


def mutated(rng: random.Random) -> tuple[dict[str, str], tuple[s.PolicyFile, ...]]:
    """A few declarations of a bundled file, mutated, checked beside the rest of the convention they
    need (so that an edit the checker accepts goes on to compile); now and then a whole file."""
    name = rng.choice([n for n in SOURCES if n != "convention.policy"])
    operations = rng.choice([1, 1, 2, 3, 5, 8, 20])
    if rng.random() < 0.01:  # a whole file, beside the clause tree
        return {"mutated_" + name: mutate(rng, SOURCES[name], operations)}, (parsed_bundled("convention.policy"),)
    pieces = declarations(name)
    start = rng.randrange(len(pieces))
    window = "".join(pieces[start:start + rng.randint(1, 5)])
    text = mutate(rng, window, operations)
    declared = set(re.findall(r"^(?:lexicon|allow)\s+([^\W\d]\w*(?:\.\w+)*)", text, re.M))
    words = set(re.findall(r"[^\W\d]\w*(?:\.\w+)*", text))
    source = parsed_bundled(name)
    lexicons = tuple(d for d in source.decls if isinstance(d, s.Lexicon) and d.name.text not in declared and (
        d.name.text in words or d.is_allow and (d.suppresses is None or words & {n.text for n in d.suppresses})))
    context = [parsed_bundled("convention.policy"), s.PolicyFile(source.path, lexicons)]
    if rng.random() < 0.3 and name != "ladder.policy":
        context.append(parsed_bundled("ladder.policy"))
    return {"mutated_" + name: text}, tuple(context)


def random_text(rng: random.Random) -> tuple[dict[str, str], tuple[s.PolicyFile, ...]]:
    roll = rng.random()
    size = rng.randint(0, 300)
    if roll < 0.3:
        text = "".join(rng.choice(UNICODE + STRUCTURE) for _ in range(size))
    elif roll < 0.6:
        text = " ".join(rng.choice(TOKENS) for _ in range(size // 4))
    elif roll < 0.8:
        text = "".join(chr(rng.randrange(0x20, 0x7F)) for _ in range(size))
    else:
        text = "".join(chr(rng.choice([rng.randrange(0x110000), rng.randrange(0x80)])) for _ in range(size))
        text = text.encode("utf-8", "replace").decode("utf-8")  # what a UTF-8 file can hold
    return {"fuzz.policy": text}, (parsed_header(),) if rng.random() < 0.5 else ()


KINDS = (("generated", generated, 0.5), ("mutated", mutated, 0.4), ("random", random_text, 0.1))


def make_input(seed: int, number: int) -> tuple[str, dict[str, str], tuple[s.PolicyFile, ...]]:
    """Input ``number`` of the run with ``seed``: its kind, texts and the parsed files beside them."""
    rng = random.Random(seed * 10_000_019 + number)
    roll = rng.random()
    for kind, make, share in KINDS:
        if roll < share:
            return (kind, *make(rng))
        roll -= share
    raise AssertionError("shares do not add up to 1")


# ---- the runner ------------------------------------------------------------------------------

class Hang(Exception):
    """An input that took longer than the per-input limit."""


@dataclass
class Figures:
    inputs: int = 0
    compiled: int = 0
    verdicts: int = 0
    kinds: Counter = field(default_factory=Counter)
    codes: Counter = field(default_factory=Counter)
    failures: list[dict] = field(default_factory=list)
    slowest: tuple[float, int] = (0.0, -1)

    def add(self, other: Figures) -> None:
        self.inputs += other.inputs
        self.compiled += other.compiled
        self.verdicts += other.verdicts
        self.kinds.update(other.kinds)
        self.codes.update(other.codes)
        self.failures.extend(other.failures)
        self.slowest = max(self.slowest, other.slowest)


def _on_alarm(signum, frame):
    raise Hang("the input took longer than the per-input limit")


def fuzz(seed: int, start: int, count: int, limit: float = 30.0) -> Figures:
    """Run inputs ``start`` .. ``start + count`` of the run with ``seed``.  Any exception, a failed
    property, or an input that takes longer than ``limit`` seconds is a failure."""
    figures = Figures()
    alarm = hasattr(signal, "setitimer")
    previous = signal.signal(signal.SIGALRM, _on_alarm) if alarm else None
    try:
        with warnings.catch_warnings():
            # the regex module warns about patterns it reads differently in its version 1 ("possible set
            # difference"): a warning, not an exception, and a million of them would fill the report
            warnings.simplefilter("ignore", FutureWarning)
            for number in range(start, start + count):
                _one(seed, number, figures, limit if alarm else 0.0)
    finally:
        if alarm:
            signal.signal(signal.SIGALRM, previous)
    return figures


def _one(seed: int, number: int, figures: Figures, limit: float) -> None:
    kind, texts, context = make_input(seed, number)
    figures.inputs += 1
    figures.kinds[kind] += 1
    began = time.perf_counter()
    try:
        if limit:
            signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            outcome = front_end(texts, context)
        finally:
            if limit:
                signal.setitimer(signal.ITIMER_REAL, 0)
        assert_sound(outcome)
    except Exception as error:  # the finding: anything but the project's own diagnostics
        figures.failures.append({"seed": seed, "number": number, "kind": kind,
                                 "error": f"{type(error).__name__}: {str(error)[:300]}",
                                 "where": traceback.format_exc(limit=-3)[-1500:],
                                 "texts": {name: text[:3000] for name, text in texts.items()}})
        return
    figures.slowest = max(figures.slowest, (time.perf_counter() - began, number))
    figures.compiled += outcome.compiled
    figures.verdicts += outcome.verdicts
    figures.codes.update(d.code for d in outcome.diagnostics)


def _fuzz_chunk(args: tuple[int, int, int]) -> Figures:
    return fuzz(*args)


def describe(failures: list[dict]) -> str:
    shown = []
    for f in failures[:5]:
        shown.append(f"seed {f['seed']} number {f['number']} ({f['kind']}): {f['error']}\n{f['where']}\n"
                     f"input: {f['texts']!r:.1500}")
    return f"{len(failures)} input(s) raised; rebuild one with make_input(seed, number)\n\n" + "\n\n".join(shown)


SAMPLE_SEED = 20261122


def test_a_seeded_sample_of_hostile_rule_files_gives_only_diagnostics_or_a_policy():
    figures = fuzz(SAMPLE_SEED, 0, 2_000)
    assert not figures.failures, describe(figures.failures)
    assert figures.kinds["generated"] > 800 and figures.kinds["mutated"] > 600 and figures.kinds["random"] > 120
    assert figures.compiled > 400  # the inputs reach the compiler and the engine, not only the parser
    assert len(figures.codes) >= 40  # and nearly every diagnostic the front end has


@pytest.mark.slow
def test_a_million_hostile_rule_files(capsys):
    """`make test-slow`: at least a million inputs over every core, with the figures printed."""
    total = int(os.environ.get("FUZZ_INPUTS", 1_000_000))
    seed = int(os.environ.get("FUZZ_SEED", 1))
    workers = int(os.environ.get("FUZZ_WORKERS", os.cpu_count() or 1))
    chunk = 5_000
    tasks = [(seed, start, min(chunk, total - start)) for start in range(0, total, chunk)]
    for name in SOURCES:  # parse the shared files once, before the workers fork
        parsed_bundled(name)
        declarations(name)
    parsed_header()
    figures = Figures()
    began = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for done, part in enumerate(pool.imap_unordered(_fuzz_chunk, tasks), start=1):
            figures.add(part)
            if done % 20 == 0 or done == len(tasks):
                with capsys.disabled():
                    print(f"\r  fuzz: {figures.inputs:,} inputs, {len(figures.failures)} exception(s), "
                          f"{time.perf_counter() - began:,.0f} s", end="", flush=True)
    wall = time.perf_counter() - began
    with capsys.disabled():
        print(f"\n  fuzz seed {seed}: {figures.inputs:,} inputs ({dict(figures.kinds)}) on {workers} worker(s) in "
              f"{wall:,.1f} s ({figures.inputs / wall:,.0f}/s); {figures.compiled:,} compiled, "
              f"{figures.verdicts:,} verdicts; {len(figures.codes)} diagnostic codes seen; slowest input "
              f"{figures.slowest[0]:.2f} s (number {figures.slowest[1]}); exceptions: {len(figures.failures)}")
    assert figures.inputs == total
    assert not figures.failures, describe(figures.failures)


def test_the_in_memory_front_end_says_what_build_says(tmp_path):
    """The fuzzer's shortcut (no files) gives the diagnostics `engine.build` gives from disk."""
    shared = tmp_path / "shared"
    for path, text in TERM_FILES.items():
        (shared / path).parent.mkdir(parents=True, exist_ok=True)
        (shared / path).write_bytes(text.encode("utf-8") if text is not None else b"\xff not UTF-8")
    compared = 0
    for number in range(150):
        kind, texts, context = make_input(SAMPLE_SEED, number)
        if kind != "generated":
            continue
        folder = tmp_path / f"p{number}"
        folder.mkdir()
        for name in ("lexicons", "hostile"):
            (folder / name).symlink_to(shared / name)
        for name, text in texts.items():
            (folder / name).write_text(text, encoding="utf-8")
        if context:
            (folder / "header.policy").write_text(HEADER, encoding="utf-8")
        built = build(folder)
        mine = load(texts, context)
        assert sorted((d.code, d.span.line, d.span.column) for d in built.diagnostics) == \
            sorted((d.code, d.span.line, d.span.column) for d in mine.diagnostics), texts
        assert (built.compiled is not None) == mine.compiled
        compared += 1
    assert compared >= 50


# ---- nesting of any depth -----------------------------------------------------------------------

RULE = 'lexicon x {{ terms "sb" }}\nrule r "t" {{ category spam clause 一.3 when {} }}\n'
NESTINGS = {
    "parentheses": lambda d: "(" * d + "body has x" + ")" * d,
    "not": lambda d: "not " * d + "body has x",
    "not and parentheses": lambda d: "not (" * d + "body has x" + ")" * d,
    "and/or chain": lambda d: "".join(f"links > {i} {('and', 'or')[i % 2]} (" for i in range(d)) + "body has x"
                              + ")" * d,
    "ladder hold": lambda d: "author.protected }\nladder \"l\" { step s \"s\" ban  start severity 1 at s  hold h \"h\" "
                             "when " + "(" * d + "author.protected" + ")" * d,
}


DEPTHS = [10, MAX_DEPTH + 1, 1_000, 5_000, pytest.param(200_000, marks=pytest.mark.slow)]


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("shape", NESTINGS)
def test_nesting_of_any_depth_is_refused_cleanly_through_the_whole_front_end(shape, depth):
    check_nesting(shape, depth)


def test_nesting_two_hundred_thousand_deep_is_refused_cleanly():
    """The cheapest shape to parse at the deepest level in `make test`; every shape in `make test-slow`."""
    check_nesting("not", 200_000)


def check_nesting(shape: str, depth: int) -> None:
    text = RULE.format(NESTINGS[shape](depth))
    outcome = front_end({"deep.policy": text}, (parsed_header(),))  # a RecursionError would fail here
    assert_sound(outcome)
    if depth <= 10:  # within MAX_DEPTH: accepted, compiled and run
        assert outcome.errors == [] and outcome.verdicts > 0
    else:
        assert outcome.errors == ["E601"]
        (deep,) = [d for d in outcome.diagnostics if d.code == "E601"]
        assert f"more than {MAX_DEPTH} levels" in deep.message and deep.span.line >= 2


@pytest.mark.parametrize("text", [
    'rule r "t" { when ' + "(" * 200_000 + "body has x }",  # never closed
    'rule r "t" { when ' + "(" * 20_000 + "body has x" + ")" * 20_000 + " }\nrule broken {",  # and a broken one
    pytest.param('rule r "t" { when ' + "(" * 200_000 + "body has x" + ")" * 200_000 + " }\nrule broken {",
                 marks=pytest.mark.slow),
    'rule r "t" { when ' + "not (" * 20_000 + ")" * 20_000 + " }",  # nothing inside
])
def test_deep_nesting_in_broken_files_gives_diagnostics(text):
    outcome = front_end({"deep.policy": text})
    assert_sound(outcome)
    assert outcome.errors and set(outcome.errors) <= {"E001", "E002", "E601"}


@pytest.mark.parametrize("pattern", ["(" * 1_000 + "a" + ")" * 1_000, "(?:" * 200_000 + "a" + ")" * 200_000,
                                     "(?V1)" + "[" * 1_000 + "a" + "]" * 1_000, "(" * 200_000])
def test_regexes_nested_any_depth_are_refused(pattern):
    outcome = front_end({"deep.policy": RULE.format(f"body matches /{pattern}/")}, (parsed_header(),))
    assert_sound(outcome)
    assert outcome.errors == ["E301"]


def test_a_flat_chain_of_twenty_thousand_tests_loads_in_bounded_time():
    """Not nesting, but as hostile: the checker's contradiction analysis used to take quadratic time."""
    chain = " and ".join(f"links != {i}" for i in range(20_000))
    began = time.perf_counter()
    outcome = front_end({"flat.policy": RULE.format(chain + " and body has x")}, (parsed_header(),))
    assert_sound(outcome)
    assert outcome.errors == [] and outcome.verdicts > 0
    assert time.perf_counter() - began < 20


def test_nesting_through_build_from_disk(tmp_path):
    for depth, expected in ((10, []), (1_000, ["E601"])):
        folder = write_policy(tmp_path / str(depth), RULE.format(NESTINGS["not and parentheses"](depth)))
        built = build(folder)
        assert [d.code for d in built.diagnostics if d.is_error] == expected
        assert (built.compiled is not None) == (not expected)


# ---- catastrophic regexes --------------------------------------------------------------------------

MUST_BE_REFUSED = {r"(a+)+", r"(a+)+$", r"^(a+)+$", r"(a*)*b", r"(x+x+)+y", r"([a-zA-Z]+)*", r"(\w+\s?)+$",
                   r"(a|aa)+", r"(a|aa)+$", r"(a|a?)+$", r"(.*a){20}", r"(?=(a+)+$)", r"a{1000}{1000}",
                   r"(a{1000}){1000}", r"x{4294967294}", r"(?:x{65535}){65535}"}
"""The textbook cases: the load-time guard must refuse these (the others may also be cut off by the timeout)."""


@pytest.mark.parametrize("case", CATASTROPHIC, ids=[c.pattern[:32] for c in CATASTROPHIC])
def test_a_catastrophic_regex_is_refused_at_load_or_cut_off_by_the_timeout(case):
    text = RULE.format(f"body matches /{case.pattern}/")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        outcome = load({"regex.policy": text}, (parsed_header(),))
    assert_sound(outcome)
    if outcome.errors:
        assert outcome.errors in (["E301"], ["E302"]), case.why
        return
    assert case.pattern not in MUST_BE_REFUSED, f"/{case.pattern}/ ({case.why}) is not refused at load"
    engine = Engine(outcome.policy)  # the default per-match timeout
    began = time.perf_counter()
    verdict = engine.check({"id": "p", "body": case.subject})
    spent = time.perf_counter() - began
    assert spent < 2.0, f"/{case.pattern}/ ({case.why}) took {spent:.2f} s"
    if verdict.warnings:  # it ran out of time: no match, a warning, and a human decides
        assert any(case.pattern in warning for warning in verdict.warnings) and verdict.decision == "review"
        assert verdict.violations == ()


def test_the_guard_and_the_timeout_together_cover_the_whole_corpus():
    """Every entry is refused at load, or runs within the timeout; count how each is handled."""
    refused = sum(bool(load({"r.policy": RULE.format(f"body matches /{c.pattern}/")}, (parsed_header(),)).errors)
                  for c in CATASTROPHIC)
    assert refused >= len(MUST_BE_REFUSED)
    assert len(CATASTROPHIC) >= 50


# ---- every bug the fuzzer found, as an example -----------------------------------------------------

LADDER = 'ladder "l" {{ step s1 "s" mute 1 day  start severity 1 at s1  {} }}\n'
FOUND = [
    # what went wrong before the fix; the rule file; the errors it gives now
    ("a counted repeat the regex module writes out four billion times: the process ran out of memory",
     RULE.format("body matches /x{4294967294}/"), ["E301"]),
    ("repeats of repeats: compiled (a million copies, 270 MB) before the check for nested repeats refused them",
     RULE.format("body matches /(?:(?:a{100}){100}){100}/"), ["E301"]),
    ("a whole number with a fraction, too large for a float: OverflowError in the parser",
     'brake "b" { watch 7 days share 5 minimum ' + "9" * 400 + ".5 }", ["E005"]),
    ("a whole number of 5,000 digits: ValueError (Python reads at most 4,300 digits)",
     RULE.format("body has x near x within " + "9" * 5_000), ["E005"]),
    ("a threshold too large for a float: infinity, then OverflowError in the contradiction analysis",
     RULE.format("count(body has x) >= " + "9" * 400), ["E005"]),
    ("(?V1) inside a regex, against the V0 flag: ValueError from the regex module",
     RULE.format("body matches /(?V1)[[a-z]--[aeiou]]/"), ["E301"]),
    ("a format code strings do not take, in the explanation: ValueError when the rule fired",
     RULE.format('body has x explain "{evidence:d}"'), ["E106"]),
    ("a placeholder inside a format specification: ValueError (the rule id is no format)",
     RULE.format('body has x explain "{evidence:{rule}}"'), ["E106"]),
    ("placeholders nested in format specifications: ValueError, max string recursion exceeded",
     RULE.format('body has x explain "{evidence:{count:{rule}}}"'), ["E106"]),
    ("an unknown conversion: ValueError when the rule fired", RULE.format('body has x explain "{evidence!z}"'),
     ["E106"]),
    ("an escalation window past the earliest date: OverflowError when a rule fired",
     RULE.format("body has x") + LADDER.format("escalate within 800000 days"), ["E114"]),
    ("a window beyond timedelta's range: OverflowError when a rule fired",
     RULE.format("body has x") + LADDER.format("expire after 99999999999 days"), ["E114"]),
    ("a mute past the last date: OverflowError in the ledger, recording the sanction",
     RULE.format("body has x").replace("1 day", "") + 'ladder "l" { step s1 "s" mute 99999999999 days '
                                                      "start severity 1 at s1 }", ["E113"]),
    ("a brake watching for more days than dates go back: OverflowError in the ledger, recording a verdict",
     'brake "b" { watch 800000 days share 5 minimum 50 }', ["E114"]),
]


@pytest.mark.parametrize("what, text, expected", FOUND, ids=[f[0][:48] for f in FOUND])
def test_what_the_fuzzer_found_is_refused_with_a_diagnostic(what, text, expected):
    outcome = front_end({"found.policy": text}, (parsed_header(),))
    assert_sound(outcome)
    assert outcome.errors == expected, what


def test_term_file_lines_are_counted_as_the_spans_count_them():
    """Found by the fuzzer: lines were split at form feeds, U+2028 and the like, so a diagnostic in a
    term file pointed at a line the file does not have (or the wrong one)."""
    outcome = load({"t.policy": 'lexicon x { file "terms.txt" }\n'}, (),
                   {"terms.txt": "a\x0bb\nsb\u2028\nsb\n\x0c\n"})
    assert_sound(outcome)
    (repeat,) = [d for d in outcome.diagnostics if d.code == "W404"]
    assert (repeat.span.path, repeat.span.line) == ("/fuzz/terms.txt", 3)


@pytest.mark.parametrize("path, reason", [(r"a\u0000b", "NUL"), ("x" * 300, "name too long"),
                                          ("a/" * 2_100, "name too long"), ("lexicons", "is a folder")])
def test_a_term_file_path_the_file_system_cannot_take_gives_a_diagnostic(tmp_path, path, reason):
    """Found by the fuzzer: a NUL or an over-long name in a term file's path raised ValueError/OSError."""
    (tmp_path / "lexicons").mkdir()
    built = build(write_policy(tmp_path, f'lexicon x {{ file "{path}" }}\n'))
    (problem,) = [d for d in built.diagnostics if d.code == "E402"]
    assert reason in problem.message.lower() or reason in problem.message
