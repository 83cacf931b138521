"""Contacts in any disguise: WeChat, QQ, phone, Telegram, e-mail and web addresses found in a text.

Spam, gambling, porn services and fraud all end in the same place: a way to reach the poster off
the platform.  They hide it the same ways too (薇信, V❤, 扣扣, digits as ①③⑧ or 一三八 or 幺, spaces
and symbols between the digits, 点com), so the engine finds contacts once, as a fact any rule can
read (``contacts(body) >= 1``), with the contact as evidence and a normalized value (``wechat:
lin2024abc``, ``phone:13812345678``, ``url:example.top``) that is the same however it was spelled.

The text is normalized with its own table: the default steps plus ``numerals`` (一三八 -> 138),
without ``repeats`` (ids repeat letters), keeping the characters addresses are made of
(``. @ _ - : / +``), reading 点/。/． as a dot and a heart as 信 (V❤ is V信).  One regex then
finds the contacts, and the offset map gives their spans in the original text.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

from policy.text.normalize import DEFAULT_STEPS, Mapped, Profile, Table, normalize, normalize_with_map, table_for

KINDS = ("wechat", "qq", "phone", "telegram", "email", "url")


class Contact(NamedTuple):
    kind: str
    value: str
    """The address once normalized: lower case, digits as digits, no separators (for a url, its host)."""
    start: int
    end: int
    """The span in the original text, the cue word (微信, QQ …) included."""


_KEPT = {".": ".", "。": ".", "．": ".", "点": ".", "點": ".", "@": "@", "＠": "@", "_": "_", "-": "-", "－": "-",
         ":": ":", "：": ":", "/": "/", "／": "/", "+": "+", "＋": "+", "➕": "+", "❤": "信", "♥": "信",
         "♡": "信", "💗": "信", "💕": "信", "💖": "信", "💓": "信", "❣": "信"}
"""What the contact table keeps or reads otherwise than the default profile does."""


@functools.cache
def contact_table() -> Table:
    base = table_for(Profile(DEFAULT_STEPS - {"repeats"} | {"numerals"}))
    low, mask, high = list(base.low), list(base.mask), dict(base.high)
    for ch, out in _KEPT.items():
        code = ord(ch)
        value = ord(out) if out == ch else out
        if code < len(low):
            low[code] = value
            mask[code] = "\x01"
        else:
            high[code] = out
    return Table(base.profile, low, high, False, mask, base.emoticons)


_SEP = r"[:/._+-]{0,3}"
_TLDS = ("com|cn|net|org|top|vip|xyz|cc|me|io|link|app|site|club|shop|info|biz|tv|pw|bid|us|ru|co|wang|ink|fun|"
         "icu|live|online|store|tk|ml|ga|la|hk|tw|win|bet|asia|life|work|xin|ren|pro|mobi|group|games|game|casino")
_CONTACT = (
    # a cue word, then the address; cues first, so that 微信13812345678 is a WeChat id, not a bare phone;
    # 薇❤信 reads 薇信信 (the heart is 信)
    rf"(?:(?:加|\+)?(?:(?:微|威|薇|维|徽|唯|v)信信?|vx|wx|weixin|wechat|卫星|绿泡泡)|(?:加|\+)(?:微|v))"
    rf"(?:号码|号|id)?(?:是|为)?{_SEP}"
    r"(?P<wechat>[a-z][a-z0-9_-]{5,19}|[0-9]{5,12})(?![a-z0-9_])"
    rf"|(?:qq|扣扣|抠抠|蔻蔻|叩叩|企鹅|球球|扣群|群号|q)(?:号码|号|群)?(?:是|为)?{_SEP}(?P<qq>[1-9][0-9]{{4,10}})(?![0-9])"
    rf"|(?:纸飞机|飞机|tg|telegram|电报)(?:号|是)?{_SEP}@?(?P<telegram>[a-z][a-z0-9_]{{4,31}})(?![a-z0-9_])"
    r"|(?P<email>[a-z0-9][a-z0-9._-]{0,63}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){1,4})(?![a-z0-9])"
    rf"|(?:https?:/{{0,2}})?(?:www\.)?(?P<url>(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.){{1,4}}(?:{_TLDS}))"
    r"(?![a-z0-9])"
    r"|(?<![0-9])(?P<phone>1[-.]?[3-9](?:[-.]?[0-9]){9})(?![0-9])"
)
CONTACT_STARTS = "a-z0-9+加微威薇维徽唯卫绿扣抠蔻叩企球群纸飞电"
"""The characters a contact can start with (its cue words' first characters, letters and digits);
``tests/test_contacts.py`` derives them from the pattern and checks this list."""
_PATTERN = re.compile(rf"(?=[{CONTACT_STARTS}])(?:{_CONTACT})")
"""The contact regex behind a lookahead on its first character: ``re`` tries every alternative at
every position, and the lookahead turns most positions of a Chinese text away with one test
(about 4× faster on short comments)."""

_SENTENCE_BREAK = re.compile(r"[，！？；、,!?;\n\r\u2028\u2029]")
"""A bare phone number never spans these: 2021年，13个省… is not a number."""


_MAY_HOLD = re.compile(r"[a-z@]|[0-9](?:[-.]?[0-9]){4}")
"""Every contact holds a letter or an @ (ids, hosts, e-mail) or five digits in a row (QQ, WeChat
numbers, phones): most posts have neither once normalized, and skip the contact regex."""


def find_contacts(text: str, folded: str | None = None) -> list[Contact]:
    """Every contact in ``text``, in order.  The offset map is built only for a text that holds one.
    ``folded``, when given, is ``normalize(text, contact_table())``, already computed."""
    if not text:
        return []
    table = contact_table()
    if folded is None:
        folded = normalize(text, table)
    if _MAY_HOLD.search(folded) is None or _PATTERN.search(folded) is None:
        return []
    return contacts_in(normalize_with_map(text, table, folded), text)


def contacts_in(mapped: Mapped, text: str) -> list[Contact]:
    found = []
    for m in _PATTERN.finditer(mapped.text):
        kind = m.lastgroup
        assert kind is not None
        start, end = mapped.original_span(*m.span())
        if kind == "phone" and _SENTENCE_BREAK.search(text, start, end):
            continue
        value = m.group(kind)
        if kind == "phone":
            value = value.replace("-", "").replace(".", "")
        found.append(Contact(kind, value, start, end))
    return found
