"""The comparison report's functions on tiny sizes: every table is there and filled in.

Runs without /work/shared (generated text and terms) in a few seconds; the real measurements are
``python -m benchmarks.compare`` and ``make bench``.
"""

import re

import pytest

from benchmarks import compare


@pytest.fixture(scope="module")
def report():
    results = compare.run(compare.TINY, None, "tiny")
    return results, compare.render(results)


def _section(text: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"no section {title!r}"
    return match.group(1)


def _rows(section: str) -> list[list[str]]:
    lines = [line for line in section.splitlines() if line.startswith("|")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]


def test_the_report_has_every_table_in_order(report):
    _, text = report
    positions = [text.index(f"\n## {title}\n") for title in compare.TABLES]
    assert positions == sorted(positions)
    for title in compare.TABLES:
        assert _rows(_section(text, title)), f"table {title!r} is empty"


def test_the_tables_cover_what_was_asked(report):
    results, text = report
    tiny = compare.TINY
    machine = dict((row[0], row[1]) for row in _rows(_section(text, "Machine")))
    for key in ("platform", "CPU", "cores", "Python", "lark", "regex", "opencc", "pyahocorasick", "date"):
        assert machine.get(key), key
    assert len(_rows(_section(text, "End to end"))) == 8  # 2 policies x 4 text sets
    assert len(_rows(_section(text, "Growth: lexicon size"))) == len(tiny.lexicon_growth)
    assert len(_rows(_section(text, "Growth: post length"))) == len(tiny.post_lengths)
    assert len(_rows(_section(text, "Growth: rule count"))) == len(tiny.rule_counts)
    parts = {row[1] for row in _rows(_section(text, "Parts"))}
    assert {"check", "normalize", "raw_scan", "automaton", "to_json", "rule evaluation (check − raw_scan)"} <= parts
    floor = {row[0]: row[1:] for row in _rows(_section(text, "Where check() spends its time"))}
    assert len(floor["the primitives, back to back (median µs)"]) == 4  # a column per text set
    side = _rows(_section(text, "Side by side"))
    assert all(row[5] != "—" for row in side)  # check() on the pure-Python path beside the engine's
    assert any(row[8] != "—" and row[10] != "—" for row in side)  # regex and loop ran somewhere
    target_rows = _rows(_section(text, "Targets"))
    verdicts = [row[-1] for row in target_rows]
    assert len(verdicts) >= 9 and all(v in ("**met**", "**not met**") for v in verdicts)
    assert all(row[1] for row in target_rows)  # a pure-Python figure beside every target
    scan = {row[0]: row for row in _rows(_section(text, "policy scan end to end"))}
    assert set(scan) == {"pure Python", "compiled"} and scan["pure Python"][3] != "—"
    assert results["texts_source"] == "generated"
    assert results["ext_count"] == tiny.ext_terms


def test_the_generated_inputs_are_fixed_by_the_seed():
    assert compare.generated_terms(50) == compare.generated_terms(50)
    terms = compare.generated_terms(200)
    assert len(set(terms)) == 200 and all(2 <= len(t) <= 4 for t in terms)
    first = compare.load_texts(compare.TINY, None).sets
    assert first == compare.load_texts(compare.TINY, None).sets
    assert all(50 <= len(t) <= 220 for t in first["short_clean"])


def test_timing_summaries():
    timing = compare.summarize([5, 1, 3, 2, 4])
    assert timing.median_ns == 3 and timing.p99_ns == 5 and timing.samples == 5
    assert compare.time_each(lambda x: x, [1, 2, 3], warmup=1, repeat=2).samples == 6


def test_the_worst_case_script_builds_every_post_at_the_size_asked_and_reports_it():
    from benchmarks import worst_case
    from policy import Engine

    engine = Engine.load()
    posts = worst_case.cases(engine, 3000)
    assert len(posts) == 8 and all(len(body) == 3000 for body in posts.values())
    rows = worst_case.measure(engine, 3000, 1)
    text = worst_case.report(rows, 3000, 1)
    assert text.count("\n| ") == 1 + len(posts) and "Slowest:" in text


def test_the_staged_check_decides_as_check_does(report):
    """The stage table times check() by repeating its calls one stage at a time: it must reach the
    same decisions, and fill every stage."""
    results, text = report
    from policy import Engine

    engine = Engine.load()
    for body in ("你好，今天天气不错", "傻逼", "加微信 abc12345 日结300", "河南人都是骗子"):
        decision, stage_ns = compare.staged_check(engine, {"id": "s", "body": body})
        assert decision == engine.check({"id": "s", "body": body}).decision
        assert len(stage_ns) == len(compare.STAGES) and all(ns >= 0 for ns in stage_ns)
    rows = _rows(_section(text, "Where check() spends its time"))
    assert [row[0] for row in rows[:len(compare.STAGES)]] == [name for name, _ in compare.STAGES]


def test_the_ab_comparison_times_a_tree_in_a_fresh_process(tmp_path, capsys):
    from benchmarks import ab

    texts = tmp_path / "texts.json"
    texts.write_text('{"short_clean": ["今天天气不错"], "short_violating": ["你个傻逼"]}', encoding="utf-8")
    timings = ab._run(ab.ROOT, texts, pure=True)
    assert timings.pop("path").startswith("pure Python")  # each side says which path it ran
    assert set(timings) == {"short_clean", "short_violating"} and all(t > 0 for t in timings.values())
    assert ab.main(["no-such-revision", "--no-data"]) == 2
    assert "cannot check out 'no-such-revision'" in capsys.readouterr().err


def test_the_floor_makes_the_automaton_calls_check_makes():
    from policy import Engine
    from policy.runtime.core import hit_pairs
    from policy.runtime.match import raw_scan

    engine = Engine.load()
    text = "加我微信 abc123，傻逼 http://t.cn/xyz"
    found = compare.primitives_of(engine)(text)
    main = hit_pairs(raw_scan(engine.policy, "body", text, {}).passes[0][2])
    assert main and found[:len(main)] == main
    assert len(found) > len(main)  # then the hits of the original-text literals (http://, t.cn/)
