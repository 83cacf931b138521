"""Scan and replay on a Dask cluster: a local cluster gives what one process gives, shard by shard."""

import json
import re

import pytest

from policy.cli import main
from policy.cluster import run
from policy.cluster.shards import Shard, ShardError, cut, shard_posts
from policy.engine.pipeline import Engine
from policy.model.lines import LineError

from .conftest import write_policy
from .test_replay import NEW, OLD

BODIES = ["专业代发", "有事私聊", "今天天气不错", "代发，私聊", "你这个傻逼", "加我微信 abc123"]


def write_shards(folder, files=3, lines=700):
    """JSON-lines files with what real input has: CRLF and LF lines, blank lines, a line that is not
    JSON, one whose post is malformed, and a lone-CR line ending."""
    paths = []
    for k in range(files):
        path = folder / f"part-{k}.jsonl"
        with open(path, "w", encoding="utf-8", newline="") as f:
            for i in range(lines):
                n = k * 10_000 + i
                if i in (5, 401):
                    f.write("not json\n")
                elif i == 9:
                    f.write("\n")
                elif i == 450:
                    f.write(json.dumps({"id": f"p{n}", "body": 7}) + "\n")
                else:
                    post = {"id": f"p{n}", "body": BODIES[n % len(BODIES)], "author": {"id": f"u{n % 7}"}}
                    f.write(json.dumps(post, ensure_ascii=False) + ("\r\n" if i % 3 else "\r" if i == 600 else "\n"))
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def client():
    with run.connect(run.LOCAL, workers=2) as client:
        yield client


def without_ids(text):
    """Verdict lines minus what differs on every check: the verdict's id and time."""
    return re.sub(r'"verdict_id":"[^"]*","|"checked_at":"[^"]*",', "", text)


def test_a_shard_numbers_its_lines_as_the_whole_file_does(tmp_path):
    paths = write_shards(tmp_path, files=1)
    whole = list(shard_posts(Shard(paths[0], 0, len(open(paths[0], "rb").read()), 1)))
    shards = list(cut(paths, lines=100))
    assert len(shards) == 7 and shards[0].start == 0 and shards[-1].end == len(open(paths[0], "rb").read())
    assert [line for s in shards for line in shard_posts(s)] == whole
    problems = [(number, problem) for _, number, _, problem in whole if problem]
    assert [n for n, _ in problems] == [6, 402]  # the lone CR at line 601 ends a line: later numbers stay right


def test_scan_on_a_local_cluster_prints_what_one_process_prints(tmp_path, capsys):
    paths = write_shards(tmp_path)
    assert main(["scan", "--summary", *paths]) == 1  # bad lines: exit 1
    one = capsys.readouterr()
    assert main(["scan", "--summary", "--cluster", "local", "--workers", "2", "--shard-lines", "150", *paths]) == 1
    cluster = capsys.readouterr()
    assert without_ids(cluster.out) == without_ids(one.out) and len(one.out.splitlines()) == 3 * 696
    assert cluster.err == one.err
    assert "part-2.jsonl:402: skipped: invalid JSON" in one.err and "9 bad line(s) skipped" in one.err


def test_replay_on_a_local_cluster_gives_the_single_process_report(tmp_path, client):
    old, new = write_policy(tmp_path / "old", OLD), write_policy(tmp_path / "new", NEW)
    paths = write_shards(tmp_path)
    lines = [line for path in paths for line in open(path, encoding="utf-8")]
    from policy.tools.replay import replay

    one = replay(old, new, lines, samples=3, workers=1)
    shards = list(cut(paths, lines=128))
    cluster = run.replay(client, Engine.load(old).policy, Engine.load(new).policy, {}, shards, samples=3)
    assert cluster.as_dict() == one.as_dict()
    assert one.changed > 0 and one.bad_lines == 9 and [c.post_id for c in one.samples["+ads"]] == ["p1", "p7", "p13"]


def test_replay_command_on_the_cluster_matches_it_without(tmp_path, capsys):
    old, new = write_policy(tmp_path / "old", OLD), write_policy(tmp_path / "new", NEW)
    paths = write_shards(tmp_path, files=2)
    assert main(["replay", "--old", str(old), "--new", str(new), "--format", "json", "--workers", "1", *paths]) == 1
    one = json.loads(capsys.readouterr().out)
    assert main(["replay", "--old", str(old), "--new", str(new), "--format", "json", "--cluster", "local",
                 "--workers", "2", "--shard-lines", "200", *paths]) == 1
    assert json.loads(capsys.readouterr().out) == one


def test_what_a_cluster_cannot_do_is_said_plainly(tmp_path, capsys):
    paths = write_shards(tmp_path, files=1, lines=20)
    assert main(["scan", "--cluster", "tcp://127.0.0.1:9", "--cluster-timeout", "1", *paths]) == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err
    assert main(["scan", "--cluster", "local", "--db", str(tmp_path / "l.db"), *paths]) == 2
    assert "--cluster checks without recording" in capsys.readouterr().err
    assert main(["scan", "--cluster", "local", "-"]) == 2
    assert "not standard input" in capsys.readouterr().err
    assert main(["scan", "--cluster", "local", str(tmp_path / "missing.jsonl")]) == 2
    assert "is not a file" in capsys.readouterr().err
    old = write_policy(tmp_path / "old", OLD)
    assert main(["replay", "--old", str(old), "--new", str(old), "--cluster", "local"]) == 2
    assert "give them" in capsys.readouterr().err
    with pytest.raises(ShardError, match="at least one line"):
        list(cut(paths, lines=0))


def test_a_shard_that_is_not_utf8_names_its_line(tmp_path, client):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"id": "a", "body": "x"}\n' * 3 + b'{"id": "b", "body": "\xff"}\n')
    shards = list(cut([str(path)], lines=2))
    with pytest.raises(LineError, match=r"bad.jsonl: line 4 is not UTF-8"):
        list(run.scan(client, Engine.load().policy, {}, shards, "json"))
