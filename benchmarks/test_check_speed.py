"""Speed of the inline check with the bundled convention (``make bench``).

Run with ``make bench``; never part of ``make test`` (pytest is invoked with
``--benchmark-disable`` there, so these run once as a smoke test).
"""

import pytest

from policy import Engine
from policy.text.normalize import DEFAULT_PROFILE, normalize, table_for

CLEAN = "今天去看了那部电影，感觉还不错，就是结尾有点仓促。演员的表现都很好，推荐大家去看看！周末有空的话可以一起约。"
ABUSIVE = "楼上的你就是个傻@逼，脑子有问题吧，赶紧滚出去，别在这里丢人现眼了，真是服了你这种人。"


@pytest.fixture(scope="module")
def engine():
    return Engine.load()


def test_clean_comment(benchmark, engine):
    verdict = benchmark(engine.check, {"id": "c", "body": CLEAN})
    assert verdict.decision == "allow"


def test_abusive_comment(benchmark, engine):
    verdict = benchmark(engine.check, {"id": "a", "body": ABUSIVE})
    assert verdict.decision == "reject"


def test_normalize_only(benchmark):
    table = table_for(DEFAULT_PROFILE)
    assert benchmark(normalize, CLEAN, table)
