"""Contacts in any disguise, found as a fact rules read: ``contacts(body) >= 1``."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy import Engine
from policy.text.contacts import contact_table, contacts_in, find_contacts
from policy.text.normalize import normalize_with_map

from .conftest import write_policy


@pytest.mark.parametrize("text, kind, value", [
    ("加我微信 lin_2024abc 详细说", "wechat", "lin_2024abc"),
    ("薇信：abc12345", "wechat", "abc12345"),
    ("V❤ abc12345", "wechat", "abc12345"),          # a heart is 信: V❤ is V信
    ("微❤: xyz_999a", "wechat", "xyz_999a"),
    ("➕V：wang888888", "wechat", "wang888888"),
    ("ＶＸ：ａｂｃ１２３４５", "wechat", "abc12345"),  # full width
    ("扣扣 2837465519", "qq", "2837465519"),
    ("Q群877828 来玩", "qq", "877828"),
    ("私聊 138 1234 5678", "phone", "13812345678"),
    ("电话一三八一二三四五六七八", "phone", "13812345678"),  # digits spelled as words
    ("幺叁捌①②③④⑤⑥⑦⑧", "phone", "13812345678"),       # odd glyphs
    ("打 1-3-8-0-0-1-3-8-0-0-0", "phone", "13800138000"),
    ("访问 y57mm.top 领取", "url", "y57mm.top"),
    ("baidu点com", "url", "baidu.com"),               # 点 for the dot
    ("https://www.Example.COM/abc", "url", "example.com"),
    ("邮箱 abc.d@qq.com", "email", "abc.d@qq.com"),
    ("纸飞机 @scam_bot99", "telegram", "scam_bot99"),
    ("加[em]e163[/em]微 13812345678", "wechat", "13812345678"),  # an emoticon code inside the cue
])
def test_a_contact_is_found_in_its_disguise_with_a_normalized_value(text, kind, value):
    found = find_contacts(text)
    assert [(c.kind, c.value) for c in found] == [(kind, value)], found
    contact = found[0]
    evidence = text[contact.start:contact.end]
    assert [(c.kind, c.value) for c in find_contacts(evidence)] == [(kind, value)]  # the evidence is the contact


@pytest.mark.parametrize("text", [
    "2021年，13个省的数据出来了", "QQ音乐年度报告出了", "微信支付很方便", "我的微信号被盗了，大家别信",
    "版本 v3.2.1 发布", "订单号213812345678901", "价格13，812345678人", "三点一刻见", "我一点都不想去",
    "市民热线12345打了三次才打通", "他住在301室", "qq空间好久没上了",
])
def test_ordinary_text_has_no_contact(text):
    assert find_contacts(text) == []


DIGIT_GLYPHS = [
    "0123456789", "０１２３４５６７８９", "零一二三四五六七八九", "〇壹贰叁肆伍陆柒捌玖", "⓪①②③④⑤⑥⑦⑧⑨", "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗",
]
SEPARATORS = ["", "", "", " ", "-", "·", "😀", "\u200b", "~"]


@settings(max_examples=300, deadline=None)
@given(st.text("0123456789", min_size=9, max_size=9), st.sampled_from("3456789"), st.data(),
       st.text("今天天气很好我们去公园玩吧", max_size=8), st.text("今天天气很好我们去公园玩吧", max_size=8))
def test_a_phone_number_in_any_glyphs_and_separators_is_found_where_it_stands(rest, second, data, before, after):
    digits = "1" + second + rest
    written = "".join(data.draw(st.sampled_from(DIGIT_GLYPHS))[int(d)] + data.draw(st.sampled_from(SEPARATORS))
                      for d in digits).rstrip("".join(SEPARATORS))
    text = before + written + after
    found = [c for c in find_contacts(text) if c.kind == "phone"]
    assert [c.value for c in found] == [digits]
    # the evidence is the number as written in the original text, separators included
    assert text[found[0].start:found[0].end] == written


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[a-z][a-z0-9_]{5,12}", fullmatch=True),
       st.sampled_from(["微信", "薇信", "vx", "VX", "V❤", "威信", "wx"]),
       st.sampled_from(["", "：", ":", " ", "号：", "号是"]))
def test_a_wechat_id_after_any_cue_is_found_with_its_id(handle, cue, glue):
    text = f"有意者加{cue}{glue}{handle} 详聊"
    found = find_contacts(text)
    assert [(c.kind, c.value) for c in found] == [("wechat", handle)]
    assert text[found[0].start:found[0].end].endswith(handle)


RULES = """
lexicon offer { terms "兼职" "私聊" }
rule spam.contact "联系方式引流" {
  category spam
  clause 一.3.8
  when body has offer and contacts(body) >= 1
  explain "留下联系方式：{evidence}"
  violates "兼职日结，加薇❤：lin_2024abc"
  allows "兼职日结，详情看官网"
}
rule spam.two_contacts "多个联系方式" {
  category spam
  clause 一.3.8
  action review
  when contacts(body)[phone, qq] >= 2
  violates "电话一三八一二三四五六七八 或 扣扣 2837465519"
  allows "电话13812345678，再打13812345678"
}
"""


def test_a_rule_reads_contacts_and_the_contact_is_evidence(tmp_path):
    engine = Engine.load(write_policy(tmp_path / "p", RULES))
    verdict = engine.check("兼职日结，加薇❤：lin_2024abc")
    evidence = {e.kind: e for e in verdict.violations[0].evidence}
    contact = evidence["contact"]
    assert (contact.term, contact.value, contact.text) == ("wechat", "lin_2024abc", "加薇❤：lin_2024abc")
    assert contact.to_dict() == {"field": "body", "kind": "contact", "start": 5, "end": 20,
                                 "text": "加薇❤：lin_2024abc", "contact": "wechat", "value": "lin_2024abc"}
    assert "「加薇❤：lin_2024abc」" in verdict.violations[0].explanation
    again = type(verdict).from_dict(verdict.to_dict())  # the ledger reads verdicts back
    assert again.violations[0].evidence == verdict.violations[0].evidence
    # the same number twice is one contact; two kinds of contact are two
    assert engine.check("电话13812345678，再打13812345678").decision == "allow"
    assert engine.check("电话一三八一二三四五六七八 或 扣扣 2837465519").decision == "review"


def test_a_heart_between_the_cue_characters_is_still_a_wechat_cue():
    # 薇❤信: the heart reads 信 (for V❤), so the cue is 薇信信
    assert [(c.kind, c.value) for c in find_contacts("加 薇❤信 abc12345 领福利")] == [("wechat", "abc12345")]


_CONTACTISH = "微信vxVX薇❤扣扣qQ企鹅纸飞机电话一二三四五六七八九幺①②③0123456789abcxyz@._-点。 ，的了是我你"


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["扣扣", "电话", "微信", "一三八", "①②③", "0", "12", "345", "-", ".", "@",
                                 "a", "qq", "点", "。", "的", "你"]) | st.text(_CONTACTISH, max_size=3),
                max_size=16).map("".join))
def test_the_quick_gate_never_hides_a_contact(text):
    """find_contacts skips the offset map when a text cannot hold a contact; what it finds is
    what the full scan finds."""
    assert find_contacts(text) == contacts_in(normalize_with_map(text, contact_table()), text)


def _first_characters(items) -> set[str]:
    """The characters a parsed regex (``re._parser`` items) can match first, as strings of one
    character, or 'a-z' / '0-9' for the class ranges the contact pattern uses."""
    from re import _constants as c
    first: set[str] = set()
    for op, arg in items:
        if op is c.LITERAL:
            first.add(chr(arg))
            return first
        if op is c.IN:
            for inner, value in arg:
                if inner is c.LITERAL:
                    first.add(chr(value))
                elif inner is c.RANGE:
                    first.add(f"{chr(value[0])}-{chr(value[1])}")
                else:
                    raise AssertionError(f"a class the test does not read: {inner}")
            return first
        if op is c.SUBPATTERN:
            inner = _first_characters(arg[3])
            nullable = "" in inner
            first |= inner - {""}
            if not nullable:
                return first
        elif op is c.BRANCH:
            branches = [_first_characters(b) for b in arg[1]]
            first |= set().union(*branches) - {""}
            if not any("" in b for b in branches):
                return first
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
            low, _, inner = arg
            first |= _first_characters(inner) - {""}
            if low > 0:
                return first
        elif op in (c.ASSERT, c.ASSERT_NOT, c.AT):
            continue  # zero width: the next item gives the first character
        else:
            raise AssertionError(f"an item the test does not read: {op}")
    return first | {""}  # everything so far may match nothing


def test_the_contact_lookahead_lets_through_every_character_a_contact_can_start_with():
    from re import _parser

    from policy.text import contacts
    starts = _first_characters(_parser.parse(contacts._CONTACT))
    assert "" not in starts  # a contact is never empty
    allowed = set(contacts.CONTACT_STARTS.replace("a-z", "").replace("0-9", "")) | {"a-z", "0-9"}
    ranges = {"a-z": "abcdefghijklmnopqrstuvwxyz", "0-9": "0123456789"}
    missing = {s for s in starts if s not in allowed and not any(len(s) == 1 and s in r for r in ranges.values())}
    assert not missing, f"add to CONTACT_STARTS: {sorted(missing)}"
