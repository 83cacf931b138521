"""A large external lexicon beside the bundled convention, and the alternatives (``make bench``).

The lexicon is generated (random CJK terms of 2-4 characters, fixed seed) at the size of houbb's
dictionary, so nothing outside the project is needed; ``python -m benchmarks.compare`` uses the real
dictionary when ``/work/shared/data`` is present.  The ``alternatives`` group runs the engine, its bare
automaton, a ``regex`` and an ``re`` alternation and a substring loop over the same 10k terms and the same posts.
"""

import random
import re

import pytest
import regex

from benchmarks.compare import (
    SEED,
    _convention_chars,
    beside_convention,
    generated_terms,
    generated_text,
    lexicon_only,
    write_terms,
)
from policy import Engine
from policy.engine import build
from policy.text.normalize import DEFAULT_PROFILE, normalize, table_for

TERMS = 64_420
SIDE_TERMS = 10_000
BATCH = 20


@pytest.fixture(scope="module")
def terms():
    return generated_terms(TERMS)


@pytest.fixture(scope="module")
def folders(tmp_path_factory, terms):
    work = tmp_path_factory.mktemp("lexicon")
    big = write_terms(work / "external.txt", terms)
    side = write_terms(work / "side.txt", terms[:SIDE_TERMS])
    return {"beside": beside_convention(work / "beside", big), "side": lexicon_only(work / "side", side)}


@pytest.fixture(scope="module")
def posts(terms):
    rng = random.Random(SEED)
    pool = _convention_chars()
    clean = [generated_text(rng, rng.randint(50, 200), pool) for _ in range(BATCH)]
    hits = [t[:20] + rng.choice(terms[:SIDE_TERMS]) + t[20:] for t in clean]
    return {"clean": clean, "hits": hits}


@pytest.fixture(scope="module")
def big_engine(folders):
    return Engine.load(folders["beside"])


@pytest.fixture(scope="module")
def side_engine(folders):
    return Engine.load(folders["side"])


def _each(fn, items):
    for item in items:
        fn(item)


@pytest.mark.benchmark(group="external lexicon")
def test_check_clean_beside_64k_terms(benchmark, big_engine, posts):
    benchmark.extra_info["posts"] = BATCH
    benchmark(_each, big_engine.check, [{"id": "c", "body": t} for t in posts["clean"]])


@pytest.mark.benchmark(group="external lexicon")
def test_check_hits_beside_64k_terms(benchmark, big_engine, posts):
    benchmark.extra_info["posts"] = BATCH
    benchmark(_each, big_engine.check, [{"id": "h", "body": t} for t in posts["hits"]])
    assert big_engine.check(posts["hits"][0]).violations


@pytest.mark.benchmark(group="external lexicon")
def test_build_beside_64k_terms(benchmark, folders):
    built = benchmark.pedantic(build, args=(folders["beside"],), rounds=2, iterations=1)
    assert built.compiled is not None


@pytest.mark.benchmark(group="external lexicon")
def test_load_cached_beside_64k_terms(benchmark, folders, tmp_path):
    Engine.load(folders["beside"], cache_dir=tmp_path)
    benchmark.pedantic(Engine.load, args=(folders["beside"],), kwargs={"cache_dir": tmp_path}, rounds=3, iterations=1)


# ---- the same 10k terms and posts, four ways ----------------------------------------------------

@pytest.fixture(scope="module")
def side(side_engine, posts):
    table = table_for(DEFAULT_PROFILE)
    keys = [k.encode("latin-1").decode("utf-8") for k in side_engine.policy.automaton.keys()]
    normalized = [normalize(t, table) for t in posts["hits"]]
    return {
        "keys": keys,
        "normalized": normalized,
        "encoded": [n.encode("utf-8").decode("latin-1") for n in normalized],
        "regex": regex.compile("|".join(regex.escape(k) for k in sorted(keys, key=len, reverse=True))),
        "re": re.compile("|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))),
    }


@pytest.mark.benchmark(group="alternatives, 10k terms")
def test_alternative_engine_check(benchmark, side_engine, posts):
    benchmark.extra_info["posts"] = BATCH
    benchmark(_each, side_engine.check, [{"id": "s", "body": t} for t in posts["hits"]])


@pytest.mark.benchmark(group="alternatives, 10k terms")
def test_alternative_bare_automaton(benchmark, side_engine, side):
    automaton = side_engine.policy.automaton
    benchmark.extra_info["posts"] = BATCH
    benchmark(_each, lambda s: list(automaton.iter(s)), side["encoded"])


@pytest.mark.benchmark(group="alternatives, 10k terms")
@pytest.mark.parametrize("module", ["regex", "re"])
def test_alternative_alternation(benchmark, side, module):
    """One alternation of the terms, longest first, in the ``regex`` module and in the standard ``re``."""
    benchmark.extra_info["posts"] = BATCH
    compiled = side[module]
    benchmark.pedantic(_each, args=(compiled.findall, side["normalized"]), rounds=5, iterations=1)
    assert all(compiled.search(n) for n in side["normalized"])


@pytest.mark.benchmark(group="alternatives, 10k terms")
def test_alternative_substring_loop(benchmark, side):
    keys = side["keys"]
    benchmark.extra_info["posts"] = BATCH
    benchmark.pedantic(_each, args=(lambda s: [t for t in keys if t in s], side["normalized"]), rounds=5,
                       iterations=1)
