"""Normalization: see through disguises while keeping every position traceable.

A *profile* is a set of steps.  Every character-level step (width, case,
traditional, digits, numerals, letters, confusables) and the deletion of
separators are folded into ONE translate table per profile, so the clean-post
path is a single ``str.translate`` (plus one regex for repeated characters).

The offset map back to the original text is built only for posts that have
hits (:func:`normalize_with_map`).  It is an independent per-character walk
over the same table; a property test holds both paths to the same output.

Deliberate choices (documented in the README):
- traditional -> simplified is character level (OpenCC's t2s, hk2s and tw2s
  applied to each character), so it never changes the text's length;
- ``numerals`` (一二三/壹贰叁 -> digits) is off by default: it would turn
  ordinary words like 一起 into 1起 and break whole-word digit terms;
- ``emoji`` reads the emoji people write for a word or a syllable as that word (你🐴 is 你马, to be
  read as 你妈 by a term's homophones; 🈲 is 禁, ㊙ is 秘); every other emoji stays a separator;
- ``emoticons`` drops the platforms' emoticon codes (``/汪汪``, ``[捂脸]``, ``[em]e163[/em]``)
  before anything else, like separators: they are written between the characters of a word;
- ``repeats`` folds a run of three or more identical characters into one
  (``傻傻傻逼`` -> ``傻逼``); runs of two are left alone because both
  languages double letters legitimately (妈妈, book), and digits are never
  folded (13800138000 must stay a phone number).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from itertools import compress
from pathlib import Path
from typing import NamedTuple

STEPS = ("width", "case", "traditional", "digits", "numerals", "letters", "confusables", "emoji", "separators",
         "emoticons", "repeats")
DEFAULT_STEPS = frozenset(STEPS) - {"numerals"}

_TABLE_SIZE = 0x20000
"""The list table covers the BMP and plane 1 (emoji, styled letters)."""

_HIGH_PLANE = re.compile("[\U00020000-\U0010FFFF]")
"""Characters beyond the list table (the high dict handles them)."""
_RUN = re.compile(r"(.)\1\1+", re.S)
"""Three or more of the same character.  Runs of digits are found too, and left alone (phone
numbers repeat them): ``(\\D)\\1{2,}`` says it in one pattern but runs four times slower, as
``re`` tests the category of every character and repeats a back reference slowly."""


@functools.cache
def _emoticon_names() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The names of emoticon codes written ``/名字`` and ``[名字]`` (``policy/data/emoticons.txt``)."""
    slash: list[str] = []
    bracket: list[str] = []
    text = (Path(__file__).parent / "data" / "emoticons.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        name, _, forms = line.split("#", 1)[0].strip().partition("\t")
        if not name:
            continue
        forms = forms.strip() or "both"
        if forms in ("slash", "both"):
            slash.append(name)
        if forms in ("bracket", "both"):
            bracket.append(name)
    return tuple(slash), tuple(bracket)


@functools.cache
def _emoticon_code() -> re.Pattern:
    """One pattern for every emoticon code: ``/名字`` (QQ), ``[名字]`` (WeChat, Weibo, Douyin,
    Xiaohongshu's ``[害羞R]``), and QQ's ``[em]e163[/em]``.  Longest names first, so ``/笑哭``
    is not read as a shorter name; a one-character slash name only where no Chinese character
    follows it."""
    slash, bracket = _emoticon_names()

    def alternation(names: tuple[str, ...]) -> str:
        return "|".join(re.escape(n) for n in sorted(set(names), key=lambda n: (-len(n), n)))

    long_slash = tuple(n for n in slash if len(n) > 1)
    short_slash = tuple(n for n in slash if len(n) == 1)  # /色 is a face, /色情 is not
    return re.compile(rf"\[em\]e[0-9]{{1,6}}\[/em\]|[/／](?:{alternation(long_slash)}|(?:{alternation(short_slash)})"
                      rf"(?![\u3400-\u9fff]))|\[(?:{alternation(bracket)})\]", re.I)


def emoticon_spans(text: str) -> list[tuple[int, int]]:
    """Where the emoticon codes of a text are (an ``in`` test first: most posts have none)."""
    if "/" not in text and "[" not in text and "／" not in text:
        return []
    return [m.span() for m in _emoticon_code().finditer(text)]


def strip_emoticons(text: str) -> str:
    """The text without its emoticon codes (normalize's first step, when the table has it)."""
    if "/" not in text and "[" not in text and "／" not in text:
        return text
    return _emoticon_code().sub("", text)


def _fold_run(run: re.Match) -> str:
    """What a run of :data:`_RUN` becomes: one of its characters, or itself for digits."""
    found = run.group(0)
    return found if found[0].isdecimal() else found[0]


class Profile(NamedTuple):
    """A set of normalization steps.  A tuple, so that hashing one (checks key their caches of
    normalized texts by field and profile) runs in C."""

    steps: frozenset[str] = DEFAULT_STEPS

    @property
    def name(self) -> str:
        if self.steps == DEFAULT_STEPS:
            return "default"
        return "+".join(step for step in STEPS if step in self.steps) or "none"


DEFAULT_PROFILE = Profile()


def resolve_steps(steps: list[tuple[str, bool]]) -> frozenset[str]:
    """Apply ``normalize`` settings left to right: names add, ``-name`` removes.

    ``default``, ``all`` and ``none`` are whole sets.  Unknown names raise
    KeyError (the checker reports them before this is called).
    """
    current: set[str] = set()
    for name, enabled in steps:
        if name == "default":
            group = set(DEFAULT_STEPS)
        elif name == "all":
            group = set(STEPS)
        elif name == "none":
            group = set(STEPS)
            enabled = not enabled
        elif name in STEPS:
            group = {name}
        else:
            raise KeyError(name)
        current = current | group if enabled else current - group
    return frozenset(current)


# ---- the character maps of each step ---------------------------------------------

_CJK_RANGES = ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00), (0x20000, 0x2A6E0))

_NUMERALS = {
    "〇": "0", "零": "0", "一": "1", "壹": "1", "幺": "1", "二": "2", "贰": "2", "两": "2", "三": "3",
    "叁": "3", "四": "4", "肆": "4", "五": "5", "伍": "5", "六": "6", "陆": "6", "七": "7", "柒": "7",
    "八": "8", "捌": "8", "九": "9", "玖": "9",
}

# Look-alikes of Latin letters from other scripts (Cyrillic, Greek, small capitals).
_CONFUSABLES = dict(zip(
    "аеорсухѕіјԁһӏԛԝАВЕКМНОРСТХУЅІЈοανρτικχΑΒΕΖΗΙΚΜΝΟΡΤΥΧᴀʙᴄᴅᴇɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢɡ",
    "aeopcyxsijdhlqwabekmhopctxysijoavptikxabezhikmnoptyxabcdeghijklmnoprstuvwyzg", strict=False,
))


def _width(ch: str) -> str:
    code = ord(ch)
    if 0xFF01 <= code <= 0xFF5E:
        return chr(code - 0xFEE0)
    if code == 0x3000:
        return " "
    return ch


def _case(ch: str) -> str:
    lower = ch.lower()
    return lower if len(lower) == 1 else ch


def _digits(ch: str) -> str:
    if ch.isascii() or unicodedata.category(ch) not in ("Nd", "No"):
        return ch
    value = unicodedata.numeric(ch, None)
    if value is None or value != int(value) or not 0 <= value <= 50:
        return ch
    return str(int(value))


def _letters(ch: str) -> str:
    code = ord(ch)
    for block in (0x1F130, 0x1F150, 0x1F170):  # squared / negative circled / negative squared capitals
        if block <= code < block + 26:
            return chr(ord("A") + code - block)
    if 0x1F1E6 <= code <= 0x1F1FF:  # regional indicators
        return chr(ord("a") + code - 0x1F1E6)
    if ch.isascii():
        return ch
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) == 3 and folded[0] == "(" and folded[2] == ")":  # parenthesized letters ⒜ .. ⒵
        folded = folded[1]
    if len(folded) == 1 and folded.isascii() and folded.isalpha():
        return folded
    return ch


def _confusable(ch: str) -> str:
    if ch in _CONFUSABLES:
        return _CONFUSABLES[ch]
    code = ord(ch)
    if 0xC0 <= code <= 0x24F and ch.isalpha():  # Latin letters with diacritics
        base = unicodedata.normalize("NFKD", ch)[0]
        if base.isascii() and base.isalpha():
            return base
    return ch


_EMOJI = {
    "🐴": "马", "🐎": "马", "🐶": "狗", "🐕": "狗", "🐩": "狗", "🐔": "鸡", "🐓": "鸡", "🐤": "鸡", "🐥": "鸡",
    "🐮": "牛", "🐂": "牛", "🐄": "牛", "🦌": "鹿", "🐍": "蛇", "🐷": "猪", "🐖": "猪", "🐽": "猪", "🐭": "鼠",
    "🐀": "鼠", "🐒": "猴", "🐵": "猴", "🐸": "蛙", "🐟": "鱼", "🐠": "鱼", "🦆": "鸭", "🐢": "龟", "🐑": "羊",
    "🐐": "羊", "🐺": "狼", "🐯": "虎", "🐅": "虎", "🐉": "龙", "🐲": "龙", "🐰": "兔", "🐇": "兔", "🐱": "猫",
    "🐈": "猫", "🐻": "熊", "🐦": "鸟", "🐧": "企鹅", "💊": "药", "🔫": "枪", "💩": "屎", "🍆": "茄",
    "❄": "冰", "🌸": "花", "🀄": "中", "🫘": "豆", "🍠": "红薯", "🥚": "蛋",
}
"""Emoji written for a word or syllable (🐴 for 妈 through 马, 🦌 for 撸, 🐍 for 射, 🌸 in 金🌸,
🫘音 for 抖音 through 豆, 🍠 for 小红书 through 红薯), read as the character they stand for by
the ``emoji`` step.  Squared and circled ideographs (🈲 禁, 🈶 有, ㊙ 秘) are read by their
compatibility form.  Emoji that posts mostly use as decoration (🔥 🌿 💰, as in 躺💰赚 or
💰日赚500) stay separators."""


def _emoji(ch: str) -> str:
    found = _EMOJI.get(ch)
    if found is not None:
        return found
    code = ord(ch)
    if 0x1F200 <= code < 0x1F300 or 0x3280 <= code < 0x32B1:  # 🈲 🈶 🉑, ㊙ ㊣
        folded = unicodedata.normalize("NFKC", ch)
        if len(folded) == 1 and "\u4e00" <= folded <= "\u9fff":
            return folded
    return ch


def _numeral(ch: str) -> str:
    return _NUMERALS.get(ch, ch)


@functools.lru_cache(maxsize=1)
def _traditional_map() -> dict[str, str]:
    """Character-level traditional -> simplified, from OpenCC's own tables."""
    import opencc

    chars = [chr(c) for lo, hi in _CJK_RANGES for c in range(lo, hi)]
    joined = "\n".join(chars)
    mapping: dict[str, str] = {}
    for config in ("hk2s", "tw2s", "t2s"):  # t2s last: it wins where they disagree
        converted = opencc.OpenCC(config).convert(joined).split("\n")
        if len(converted) != len(chars):
            continue
        for before, after in zip(chars, converted, strict=True):
            if after != before and len(after) == 1:
                mapping[before] = after
    # A character that is itself the simplified form of another stays as it is: without
    # context, t2s would turn the simplified 么 (什么) into 幺 and 著 (著名) into 着.
    simplified = set(mapping.values())
    return {before: after for before, after in mapping.items() if before not in simplified}


_SEPARATOR_CATEGORIES = frozenset(
    ("Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Mn", "Me", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So")
)


def is_separator(ch: str) -> bool:
    """Characters skipped between the characters of a term: spaces, punctuation,
    symbols and emoji, zero-width and other format characters, combining marks, and
    lone surrogates (JSON can carry them as escapes; they display as nothing)."""
    return unicodedata.category(ch) in _SEPARATOR_CATEGORIES


def _candidates() -> set[int]:
    """Every code point some step may change: the domain of the table."""
    codes = set(range(0x80, 0x250))
    codes.update(range(0x370, 0x530))
    codes.update(range(0x1D00, 0x1DC0))
    codes.update(range(0x2000, 0x2C00))
    codes.update(range(0x3000, 0x3040))
    codes.update(range(0xFF00, 0xFFF0))
    codes.update(range(0xA700, 0xA800))
    codes.update(range(0x1D400, 0x1D800))
    codes.update(range(0x1F100, 0x1F300))
    codes.update(ord(c) for c in _EMOJI)
    codes.update(ord(c) for c in _NUMERALS)
    codes.update(range(0x41, 0x5B))
    return codes


def _compose(ch: str, steps: frozenset[str]) -> str:
    out = ch
    for step, fn in (
        ("width", _width),
        ("letters", _letters),
        ("digits", _digits),
        ("confusables", _confusable),
        ("emoji", _emoji),
        ("traditional", lambda c: _traditional_map().get(c, c)),
        ("numerals", _numeral),
        ("case", _case),
    ):
        if step in steps:
            out = "".join(fn(c) for c in out)
    if "separators" in steps:
        out = "".join(c for c in out if not is_separator(c))
    return out


@dataclass(frozen=True)
class Table:
    """The compiled form of a profile: a list table for ``str.translate`` over
    the first planes, and a dict for the few higher code points that change.

    ``mask`` maps each code point to a byte for the offset map: 0 deleted, 1 kept
    as one character, 2 expanded to several (rare: those take the slow walk)."""

    profile: Profile
    low: list
    high: dict[int, str | None]
    repeats: bool
    mask: list
    emoticons: bool = False

    def lookup(self, ch: str) -> str:
        code = ord(ch)
        mapped = self.low[code] if code < _TABLE_SIZE else self.high.get(code, code)
        if mapped is None:
            return ""
        return chr(mapped) if isinstance(mapped, int) else mapped


@functools.cache
def table_for(profile: Profile) -> Table:
    steps = profile.steps
    low: list = list(range(_TABLE_SIZE))
    high: dict[int, str | None] = {}
    codes = _candidates()
    if "traditional" in steps:
        codes.update(ord(c) for c in _traditional_map())
    if "separators" in steps:
        codes.update(c for c in range(_TABLE_SIZE) if is_separator(chr(c)))
        codes.update(range(0xE0000, 0xE0080))  # tag characters (flag emoji)
        codes.update(range(0xE0100, 0xE01F0))  # variation selectors supplement
    for code in codes:
        ch = chr(code)
        out = _compose(ch, steps)
        if out == ch:
            continue
        value: str | None = out if out else None
        if code < _TABLE_SIZE:
            low[code] = value
        else:
            high[code] = value
    mask = ["\x01"] * _TABLE_SIZE
    for code in range(_TABLE_SIZE):
        value = low[code]
        if value is None:
            mask[code] = "\x00"
        elif isinstance(value, str) and len(value) != 1:
            mask[code] = "\x02"
    return Table(profile, low, high, "repeats" in steps, mask, "emoticons" in steps)


@functools.cache
def casefold_table() -> Table:
    """``str.casefold`` as a table (it folds each character on its own, and nothing beyond the
    list table's planes folds): how the compiled core folds a text for the original-text
    literals."""
    low: list = list(range(_TABLE_SIZE))
    for code in range(_TABLE_SIZE):
        folded = chr(code).casefold()
        if folded != chr(code):
            low[code] = folded
    mask = ["\x02" if isinstance(value, str) and len(value) > 1 else "\x01" for value in low]
    return Table(Profile(frozenset()), low, {}, False, mask)


def normalize(text: str, table: Table) -> str:
    """The fast path: C-speed primitives only."""
    if table.emoticons:
        text = strip_emoticons(text)
    out = text.translate(table.low)
    if table.high and _HIGH_PLANE.search(out):
        out = out.translate(table.high)
    if table.repeats:
        out = _RUN.sub(_fold_run, out)  # the same string back when there is no run
    return out


class Mapped:
    """A normalized text with, for each of its characters, the original span it
    came from: ``starts[i]:ends[i]`` in the original text.

    Most characters come from one original character, ending at ``starts[i] + 1``; so the
    fast path keeps only the ends of folded runs (by index), and the list of ends is made
    only if asked for.  The per-character walk keeps the whole list."""

    __slots__ = ("text", "starts", "_ends", "_run_ends")

    def __init__(self, text: str, starts: list[int], ends: list[int] | None = None,
                 run_ends: dict[int, int] | None = None):
        self.text = text
        self.starts = starts
        self._ends = ends
        self._run_ends = run_ends or {}  # with no list of ends: where the ends differ from start + 1

    @property
    def ends(self) -> list[int]:
        if self._ends is None:
            self._ends = [self._run_ends.get(i, start + 1) for i, start in enumerate(self.starts)]
        return self._ends

    def end(self, index: int) -> int:
        """Where the normalized character ``index`` ends in the original text."""
        if self._ends is not None:
            return self._ends[index]
        return self._run_ends.get(index, self.starts[index] + 1)

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalized span (non-empty) back to the original text."""
        return self.starts[start], self.end(end - 1)


def normalize_with_map(text: str, table: Table, normalized: str | None = None) -> Mapped:
    """The hit path: the same result as :func:`normalize`, plus the offset map.

    C-speed in the common case: the kept positions come from a mask translate and
    ``itertools.compress``; repeats are folded by slicing around the few runs.
    ``normalized``, when given, is ``normalize(text, table)``, already computed: it is
    reused when no run was folded.  Emoticon codes are cut out first, and the map is moved back
    onto the text that held them."""
    if table.emoticons:
        codes = emoticon_spans(text)
        if codes:
            kept = _outside(len(text), codes)
            return _moved(_normalize_with_map("".join(text[i] for i in kept), table, normalized, False), kept)
    return _normalize_with_map(text, table, normalized, False)


def _outside(length: int, spans: list[tuple[int, int]]) -> list[int]:
    """The positions in ``range(length)`` outside ``spans`` (sorted and disjoint, as ``finditer``
    gives them), in order: one range per gap, not a test per position."""
    kept: list[int] = []
    last = 0
    for a, b in spans:
        kept.extend(range(last, a))
        last = b
    kept.extend(range(last, length))
    return kept


def _moved(m: Mapped, positions: list[int]) -> Mapped:
    """A map of ``text`` built over a text made of ``text[positions[i]]``, moved back onto ``text``."""
    starts = [positions[s] for s in m.starts]
    if m._ends is not None:
        return Mapped(m.text, starts, [positions[e - 1] + 1 for e in m._ends])
    return Mapped(m.text, starts, run_ends={i: positions[e - 1] + 1 for i, e in m._run_ends.items()})


def _normalize_with_map(text: str, table: Table, normalized: str | None, emoticons: bool) -> Mapped:
    if not text or _HIGH_PLANE.search(text):
        return _walk(text, table, emoticons)
    mask = text.translate(table.mask)
    if "\x02" in mask:
        return _walk(text, table, emoticons)
    starts = list(compress(range(len(text)), mask.encode("latin-1")))
    # Without expansions, the translated text has one character per kept one; a normalized
    # text that long had no run folded, so it is the translated text itself.
    out = normalized if normalized is not None and len(normalized) == len(starts) else text.translate(table.low)
    runs = [m.span() for m in _RUN.finditer(out) if not m.group(1).isdecimal()] if table.repeats else ()
    if runs:  # keep each run's first character, ending where the run ends
        pieces, new_starts, run_ends, last = [], [], {}, 0
        for a, b in runs:
            pieces.append(out[last:a + 1])
            new_starts += starts[last:a + 1]
            run_ends[len(new_starts) - 1] = starts[b - 1] + 1
            last = b
        pieces.append(out[last:])
        new_starts += starts[last:]
        return Mapped("".join(pieces), new_starts, run_ends=run_ends)
    return Mapped(out, starts)


def _walk(text: str, table: Table, emoticons: bool = True) -> Mapped:
    """The per-character walk: any table, any text (``emoticons``: cut out emoticon codes first,
    when the table does)."""
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    lookup = table.lookup
    codes = emoticon_spans(text) if table.emoticons and emoticons else []
    for index in _outside(len(text), codes):
        for out in lookup(text[index]):
            chars.append(out)
            starts.append(index)
            ends.append(index + 1)
    if table.repeats and len(chars) >= 3:
        chars, starts, ends = _collapse_runs(chars, starts, ends)
    return Mapped("".join(chars), starts, ends)


def _collapse_runs(chars: list[str], starts: list[int], ends: list[int]):
    out_c: list[str] = []
    out_s: list[int] = []
    out_e: list[int] = []
    i = 0
    n = len(chars)
    while i < n:
        j = i + 1
        while j < n and chars[j] == chars[i]:
            j += 1
        if j - i >= 3 and not chars[i].isdecimal():
            out_c.append(chars[i])
            out_s.append(starts[i])
            out_e.append(ends[j - 1])
        else:
            out_c.extend(chars[i:j])
            out_s.extend(starts[i:j])
            out_e.extend(ends[i:j])
        i = j
    return out_c, out_s, out_e


def normalized_text(text: str, table: Table, cache: dict, key) -> str:
    """The fast-path normalization of a field, computed once per check."""
    found = cache.get(key)
    if found is None:
        found = cache[key] = normalize(text, table)
    return found


def mapped_text(text: str, table: Table, cache: dict, key, normalized: dict | None = None) -> Mapped:
    """The offset map of a field, built once per check and only on the hit path.
    ``normalized`` is the cache of :func:`normalized_text`, by the same keys."""
    found = cache.get(key)
    if found is None:
        found = cache[key] = normalize_with_map(text, table, normalized.get(key) if normalized else None)
    return found


def is_word_char(ch: str) -> bool:
    """A Latin letter or digit, the characters whole-word matching cares about."""
    return ch.isascii() and ch.isalnum()
