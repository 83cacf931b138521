"""Hot reload: an atomic swap, in-flight checks on the old version, a broken policy never loaded."""

import threading
import time

from policy.live import LiveEngine

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
