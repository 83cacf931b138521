"""The engine's parts on their own, with the bundled convention (``make bench``).

Normalization, the automaton scan, the whole check on a long post, verdict serialization,
compiling the convention and loading it from the cache.  Texts are generated from a fixed seed
(``benchmarks.compare``), so these need nothing outside the project.  Under ``make test`` they are
not collected; with ``--benchmark-disable`` each runs once as a smoke test.
"""

import random

import pytest

from benchmarks.compare import SEED, encoded, generated_text, strong_abuse_terms
from benchmarks.compare import _convention_chars as convention_chars
from policy import Engine
from policy.engine import build
from policy.runtime.match import raw_scan
from policy.text.normalize import DEFAULT_PROFILE, normalize, table_for

BATCH = 20


@pytest.fixture(scope="module")
def texts():
    rng = random.Random(SEED)
    pool = convention_chars()
    abuse = strong_abuse_terms()
    short = [generated_text(rng, rng.randint(50, 200), pool) for _ in range(BATCH)]
    violating = [t[:30] + rng.choice(abuse) + t[30:] for t in short]
    long = generated_text(rng, 5000, pool)
    return {"short": short, "violating": violating, "long": long}


@pytest.fixture(scope="module")
def engine():
    return Engine.load()


def _each(fn, items):
    for item in items:
        fn(item)


@pytest.mark.benchmark(group="normalize")
def test_normalize_short_batch(benchmark, texts):
    table = table_for(DEFAULT_PROFILE)
    benchmark.extra_info["posts"] = BATCH
    benchmark(_each, lambda t: normalize(t, table), texts["short"])


@pytest.mark.benchmark(group="normalize")
def test_normalize_long(benchmark, texts):
    table = table_for(DEFAULT_PROFILE)
    assert benchmark(normalize, texts["long"], table)


@pytest.mark.benchmark(group="scan")
def test_raw_scan_short_batch(benchmark, engine, texts):
    benchmark.extra_info["posts"] = BATCH
    benchmark(_each, lambda t: raw_scan(engine.policy, "body", t, {}), texts["short"])


@pytest.mark.benchmark(group="scan")
def test_automaton_only_short_batch(benchmark, engine, texts):
    """The floor: the engine's automaton over already normalized text."""
    automaton = engine.policy.automaton
    prepared = [encoded(t) for t in texts["short"]]
    benchmark.extra_info["posts"] = BATCH
    benchmark(_each, lambda s: list(automaton.iter(s)), prepared)


@pytest.mark.benchmark(group="scan")
def test_raw_scan_long(benchmark, engine, texts):
    benchmark(raw_scan, engine.policy, "body", texts["long"], {})


@pytest.mark.benchmark(group="check")
def test_check_short_batch(benchmark, engine, texts):
    posts = [{"id": str(i), "body": t} for i, t in enumerate(texts["short"])]
    benchmark.extra_info["posts"] = BATCH
    benchmark(_each, engine.check, posts)


@pytest.mark.benchmark(group="check")
def test_check_violating_batch(benchmark, engine, texts):
    posts = [{"id": str(i), "body": t} for i, t in enumerate(texts["violating"])]
    benchmark.extra_info["posts"] = BATCH
    benchmark(_each, engine.check, posts)
    assert all(engine.check(p).decision == "reject" for p in posts)


@pytest.mark.benchmark(group="check")
def test_check_long_post(benchmark, engine, texts):
    verdict = benchmark(engine.check, {"id": "long", "body": texts["long"]})
    assert verdict.decision in ("allow", "review", "reject")


@pytest.mark.benchmark(group="verdict")
def test_to_json_with_violations(benchmark, engine, texts):
    verdict = engine.check({"id": "v", "body": texts["violating"][0]})
    assert verdict.violations
    assert benchmark(verdict.to_json).startswith("{")


@pytest.mark.benchmark(group="load")
def test_build_bundled_convention(benchmark):
    built = benchmark.pedantic(build, rounds=3, iterations=1, warmup_rounds=0)
    assert built.compiled is not None


@pytest.mark.benchmark(group="load")
def test_load_bundled_from_cache(benchmark, tmp_path):
    Engine.load(cache_dir=tmp_path)
    engine = benchmark.pedantic(Engine.load, kwargs={"cache_dir": tmp_path}, rounds=5, iterations=1)
    assert engine.check("你就是个傻逼").decision == "reject"
