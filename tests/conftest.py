"""Shared helpers: write a small policy to a temporary folder and load it."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from hypothesis import settings

from policy import Engine

# Property tests explore new random inputs on every local run (that is how they find bugs);
# CI runs them derandomized so a landing never fails on an input nobody has looked at yet.
# A bug they find gets its own example test (e.g. test_terms_that_normalize_alike_give_one_hit).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

HEADER = """\
convention "测试公约" { version "t" }
clause 一 "违法、不良信息"
clause 一.2 "不友善"
clause 一.2.6 "谩骂：以不文明的语言对他人进行负面评价"
clause 一.3 "垃圾广告"
clause 一.3.8 "使用特殊符号规避审核的广告"
category unfriendly "不友善" { clause 一.2 severity 2 }
category spam "垃圾广告" { clause 一.3 severity 1 }
"""


def write_policy(folder: Path, text: str, files: dict[str, str] | None = None, header: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.policy").write_text((HEADER if header else "") + textwrap.dedent(text), encoding="utf-8")
    for name, content in (files or {}).items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return folder


@pytest.fixture
def make_engine(tmp_path):
    """``make_engine(rules_text, files={...})`` -> Engine over HEADER + rules_text."""
    count = 0

    def make(text: str, files: dict[str, str] | None = None, **options) -> Engine:
        nonlocal count
        count += 1
        return Engine.load(write_policy(tmp_path / f"p{count}", text, files), **options)

    return make
