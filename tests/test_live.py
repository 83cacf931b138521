"""Hot reload: an atomic swap, in-flight checks on the old version, a broken policy never loaded."""

import threading
import time

from policy.engine.live import LiveEngine

from .conftest import write_policy

V1 = 'lexicon words { terms "代发" }\nrule r "r" { category spam clause 一.3.8 when body has words }\n'
V2 = 'lexicon words { terms "引流" }\nrule r "r" { category spam clause 一.3.8 when body has words }\n'


def test_reload_swaps_to_the_new_version(tmp_path):
    folder = write_policy(tmp_path / "p", V1)
    seen = []
    live = LiveEngine(folder, on_reload=seen.append)
    first = live.version
    assert live.check("专业代发").decision == "reject"
    write_policy(folder, V2)
    result = live.reload()
    assert result.loaded and result.previous == first and result.version == live.version != first
    assert live.check("专业代发").decision == "allow"
    assert live.check("专业引流").decision == "reject"
    assert seen == [result]


def test_a_policy_that_fails_the_checker_is_never_loaded(tmp_path):
    folder = write_policy(tmp_path / "p", V1)
    live = LiveEngine(folder)
    before = live.version
    write_policy(folder, V1.replace("has words", "has nothing"))
    result = live.reload()
    assert not result.loaded and result.version == before == live.version
    assert [d.code for d in result.diagnostics if d.is_error] == ["E101"]
    assert live.check("专业代发").decision == "reject"  # the old version keeps running


def test_checks_in_flight_finish_on_the_version_they_started_with(tmp_path):
    folder = write_policy(tmp_path / "p", V1)
    live = LiveEngine(folder)
    old = live.engine
    started, release = threading.Event(), threading.Event()
    results = []

    original = old.check

    def slow_check(post, **kwargs):
        started.set()
        release.wait(5)
        return original(post, **kwargs)

    old.check = slow_check
    worker = threading.Thread(target=lambda: results.append(live.check({"id": "1", "body": "专业代发"})))
    worker.start()
    started.wait(5)
    write_policy(folder, V2)
    assert live.reload().loaded
    release.set()
    worker.join()
    assert results[0].policy_version == old.version != live.version
    assert results[0].decision == "reject"  # judged by the old version it started on


def test_watch_reloads_when_the_files_change(tmp_path):
    folder = write_policy(tmp_path / "p", V1)
    live = LiveEngine(folder)
    before = live.version
    live.watch(interval=0.05)
    try:
        time.sleep(0.1)
        write_policy(folder, V2)
        deadline = time.time() + 5
        while live.version == before and time.time() < deadline:
            time.sleep(0.05)
    finally:
        live.stop()
    assert live.version != before


def test_threads_checking_through_reloads_get_the_verdict_of_the_version_they_name(tmp_path):
    """Eight threads check posts while another keeps flipping the policy between two versions.
    Every verdict must be exactly what a single-threaded engine of the version it names gives."""
    import json
    from concurrent.futures import ThreadPoolExecutor

    from policy import Engine

    engines = [Engine.load(write_policy(tmp_path / name, text)) for name, text in (("v1", V1), ("v2", V2))]
    reference = {engine.version: engine for engine in engines}
    second = engines[1].version
    folder = write_policy(tmp_path / "live", V1)
    live = LiveEngine(folder)
    posts = [{"id": f"p{i}", "body": body} for i, body in
             enumerate(["专业代发", "专业引流", "你好", "代发引流", "代 发", "引@流"] * 50)]
    first_round_done = threading.Barrier(9)  # eight checkers and the reloader
    second_served = threading.Event()  # a check got a verdict of the second version
    done = threading.Event()

    def reloader() -> int:
        """Flip V1 -> V2 -> V1 ... while the checkers run: at least twice, and until V2 has
        served a check (checks are fast; a reload is a build, so it could otherwise miss them)."""
        flips = 0
        try:
            first_round_done.wait()  # so the first version is sure to have served some checks
            deadline = time.monotonic() + 30
            while (flips < 2 or not second_served.is_set()) and time.monotonic() < deadline:
                write_policy(folder, V2 if flips % 2 == 0 else V1)
                assert live.reload().loaded
                flips += 1
                if flips % 2:
                    second_served.wait(timeout=5)
        finally:
            done.set()  # the checkers stop after their current round, whatever happened here
        return flips

    def checker(offset: int) -> list:
        out = []
        round_number = 0
        while round_number < 2 or not done.is_set():
            if round_number == 1:
                first_round_done.wait()
            for post in posts[offset::4]:
                verdict = live.check(post)
                if verdict.policy_version == second:
                    second_served.set()
                out.append((post, verdict))
            round_number += 1
        return out

    with ThreadPoolExecutor(max_workers=9) as pool:
        flipping = pool.submit(reloader)
        results = [v for f in [pool.submit(checker, i % 4) for i in range(8)] for v in f.result()]
        assert flipping.result() >= 2
    seen_versions = {verdict.policy_version for _, verdict in results}
    assert seen_versions <= set(reference) and len(seen_versions) == 2  # both versions served checks
    for post, verdict in results:
        expected = reference[verdict.policy_version].check(post)

        def comparable(v):
            data = json.loads(v.to_json())
            del data["verdict_id"], data["checked_at"]
            return data

        assert comparable(verdict) == comparable(expected), post
