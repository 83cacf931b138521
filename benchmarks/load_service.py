"""How fast is ``policy serve`` over HTTP?  A load benchmark of ``/v1/check`` and ``/v1/process``.

    .venv/bin/python -m benchmarks.load_service [--seconds 10] [--workers 1 2] [--concurrency 1 4 16 64]
                                                [--quick] [--json FILE] [--client auto|wrk|python]

For each number of server workers it makes a ledger and a pipeline key in a temporary folder
(``policy key add bench --role pipeline``), starts the real service (``policy serve --db … --port …
--workers N``) as a subprocess, waits for ``GET /readyz``, and loads each endpoint at each number of
open connections for a fixed time, after a short unrecorded warm-up.  The server is always stopped
(its whole process group), on errors and Ctrl-C too.

Posts are real comments read at run time from ``../shared/data/`` beside the repository (COLD's dev
split by default: about half offensive; ``--corpus`` picks ChineseHarm's positives or both), a seeded
sample of ``--posts`` of them, never copied into the project.  Without that folder a small built-in
list of varied comments is used and the output says so.  Every ``/v1/process`` request carries a
fresh post id (the ledger records each one); authors rotate over a few hundred ids, so strikes and
sanctions accumulate as on a real site.

The load generator.  The machine has 2 cores shared by server and client, so the client must cost
far less per request than the server, or the figures are the client's.  ``wrk`` (Debian's package;
``apt-get install -y wrk``) is a C event loop that spends a few microseconds per request: one wrk
thread keeps 64 keep-alive connections busy and uses a small share of one core at this service's
rates, so it is preferred (``--client auto``, the default, uses it when it is on PATH).  A Lua script
POSTs JSON bodies rotating through the comments, with a counter for fresh post ids, and counts every
non-2xx status; wrk's ``--latency`` histogram records every request, so p50 and p99 are per-request
figures.  Without wrk a Python client is used instead: raw asyncio streams speaking keep-alive
HTTP/1.1 (several times cheaper per request than httpx), timing every request with
``perf_counter``.  It costs tens of microseconds per request, so its figures at high rates are
partly the client's; the ``client cores`` column shows how much of a core the client took either way,
and ``server CPU µs/req`` (the server's process group, read from ``/proc``) is the server's own cost
per request whatever the client.  The machine is shared: ``other cores`` is what every other process
took during the level (``/proc/stat``); each level waits for a quiet machine first and is measured
again (``--retries``) when others took over 0.2 of a core, and the output says which levels stayed
disturbed.  With several workers the per-worker cores show how the connections were shared out:
uvicorn's workers accept from one socket, and one of them often takes every connection of a level.

The engine alone is timed in-process on the same posts (``Engine.load().check(post)``: median per
check, checks/s on one core), and so are the ASGI application without a socket (``create_app``
called directly, as uvicorn would) and ``SqliteLedger.process`` (what ``/v1/process`` adds: the
ledger transaction and its fsync).  The HTTP layer's overhead per request is given both ways, each
labelled: at concurrency 1, median latency minus the engine's median check; at saturation with one
worker (one process, at most one core), 1 / the best requests/s minus the engine's mean check.

Output: a Markdown table (endpoint × workers × connections: req/s, p50 and p99 ms, errors) and the
engine-only lines, ready to paste into the README; ``--json FILE`` writes the same as JSON.
``--quick`` is a smoke run: 2 s per level, 1 and 8 connections.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import http.client
import importlib.util
import itertools
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data"
CORPORA = {"cold": ("cold/dev.jsonl",), "chineseharm": ("chineseharm/dev_positives.jsonl",),
           "both": ("cold/dev.jsonl", "chineseharm/dev_positives.jsonl")}
SEED = 20261201
USERS = 500
BUSY = 0.2
"""Cores that other processes may take during a level before it is measured again (a shared machine)."""
HOST = "127.0.0.1"

FALLBACK_COMMENTS = [
    "今天的比赛太精彩了，主队最后十秒绝杀！",
    "这家店的牛肉面真的好吃，下次还来",
    "楼主说得有道理，我也遇到过类似的情况",
    "有没有人知道这个快递为什么三天还没到？",
    "谢谢分享，收藏了，周末试试这个做法",
    "孩子今天第一次自己骑车，开心",
    "这部电影的配乐很好听，推荐大家去看",
    "请问从北京到上海坐高铁要多久？",
    "同意楼上，物价确实涨得太快了",
    "下雨天就适合在家看书喝茶",
    "你就是个傻逼，滚出去",
    "楼上真是个傻 @ 逼，脑子有病吧",
    "你妈死了，垃圾东西",
    "河南人都是骗子，别信他们",
    "女人就该待在家里，出来工作干什么",
    "加微信 abc12345 日赚三千，刷单兼职，名额有限",
    "澳门在线赌场，首充送百分百，点击链接注册",
    "出售QQ号、微信号，实名认证，量大从优",
    "废物一个，活着浪费空气",
    "黑人都是懒惰的，这是事实",
]

LUA = r"""
-- benchmarks/load_service.py: POST JSON posts rotating through a file of JSON-encoded texts.
-- args: bodies-file  authorization-header-or-"-"  id-prefix
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
  count = 0
  non2xx = 0
  statuses = {}
  prefix = args[3]
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if args[2] ~= "-" then wrk.headers["Authorization"] = args[2] end
end

function request()
  count = count + 1
  local text = bodies[(count - 1) % #bodies + 1]
  local body = string.format('{"id":"%s-%d-%d","body":%s,"author":{"id":"u%d"}}',
                             prefix, tid, count, text, count % 500)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  local codes = {}
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non2xx") or 0)
    local seen = t:get("statuses") or {}
    for code, n in pairs(seen) do codes[code] = (codes[code] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(codes) do parts[#parts + 1] = string.format('"%d":%d', code, n) end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,"max_us":%.0f,' ..
    '"mean_us":%.1f,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, bad, e.connect, e.read, e.write, e.timeout,
    table.concat(parts, ",")))
end
"""


# ---- the posts ------------------------------------------------------------------------------------

@dataclass
class Corpus:
    source: str  # what the texts are, for the output
    texts: list[str]
    real: bool


def load_corpus(data: Path, corpus: str, posts: int) -> Corpus:
    """A seeded sample of real comments from ``data``, or the built-in list when it is missing."""
    files = [data / name for name in CORPORA[corpus]]
    if not all(f.is_file() for f in files):
        return Corpus(f"built-in list of {len(FALLBACK_COMMENTS)} comments ({data} not found: NOT real data)",
                      list(FALLBACK_COMMENTS), False)
    texts: list[str] = []
    for path in files:
        with open(path, encoding="utf-8") as f:
            texts += [row["text"] for row in map(json.loads, filter(str.strip, f)) if row.get("text")]
    rng = random.Random(SEED)
    rng.shuffle(texts)
    texts = texts[:posts]
    lengths = sorted(len(t) for t in texts)
    names = " + ".join(CORPORA[corpus])
    return Corpus(f"{len(texts):,} comments sampled from {data}/{{{names}}} (median {lengths[len(lengths) // 2]} "
                  f"characters, longest {lengths[-1]})", texts, True)


def post_dict(text: str, n: int, prefix: str = "e") -> dict[str, Any]:
    """The body sent for the n-th request (the Lua script builds the same)."""
    return {"id": f"{prefix}-{n}", "body": text, "author": {"id": f"u{n % USERS}"}}


# ---- the engine in-process ------------------------------------------------------------------------

def _median_and_total(posts: list[dict], call: Any, passes: int = 3) -> tuple[float, float, float]:
    """Per-post best time over ``passes``: (median, p99, best whole pass) in seconds."""
    for post in posts:
        call(post)
    best = [float("inf")] * len(posts)
    best_pass = float("inf")
    for _ in range(passes):
        started = time.perf_counter()
        for i, post in enumerate(posts):
            t0 = time.perf_counter_ns()
            call(post)
            best[i] = min(best[i], (time.perf_counter_ns() - t0) / 1e9)
        best_pass = min(best_pass, time.perf_counter() - started)
    ordered = sorted(best)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], best_pass


def engine_figures(texts: list[str], tmp: Path) -> dict[str, Any]:
    """The engine's own time per check, the ASGI app's without a socket, and the ledger's process."""
    from policy import Engine

    engine = Engine.load()
    posts = [post_dict(t, i) for i, t in enumerate(texts)]
    median, p99, whole = _median_and_total(posts, engine.check)
    out: dict[str, Any] = {"posts": len(posts), "check_median_us": median * 1e6, "check_p99_us": p99 * 1e6,
                           "check_mean_us": whole / len(posts) * 1e6, "checks_per_s": len(posts) / whole}
    try:
        out.update(_asgi_figures(posts))
    except Exception as error:  # the app is being changed by others: report, do not fail the benchmark
        out["asgi_error"] = f"{type(error).__name__}: {error}"
    try:
        out.update(_ledger_figures(engine, texts, tmp))
    except Exception as error:
        out["ledger_error"] = f"{type(error).__name__}: {error}"
    return out


def _asgi_figures(posts: list[dict]) -> dict[str, Any]:
    """``POST /v1/check`` through the ASGI application itself, no socket and no HTTP parsing."""
    from policy.engine.live import LiveEngine
    from policy.service.app import create_app

    app = create_app(LiveEngine())
    bodies = [json.dumps(p, ensure_ascii=False).encode() for p in posts]
    statuses: Counter[int] = Counter()

    async def call(body: bytes) -> None:
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": "/v1/check", "raw_path": b"/v1/check",
                 "query_string": b"", "root_path": "", "client": (HOST, 50000), "server": (HOST, 8000),
                 "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                             (b"content-length", str(len(body)).encode())]}
        messages = iter([{"type": "http.request", "body": body, "more_body": False}])

        async def receive() -> dict:
            message = next(messages, None)
            if message is None:  # nothing more will come: wait as a client that stays connected
                await asyncio.sleep(3600)
                return {"type": "http.disconnect"}
            return message

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                statuses[message["status"]] += 1

        await app(scope, receive, send)

    async def run() -> tuple[float, float, float]:
        for body in bodies:
            await call(body)
        best = [float("inf")] * len(bodies)
        best_pass = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            for i, body in enumerate(bodies):
                t0 = time.perf_counter_ns()
                await call(body)
                best[i] = min(best[i], (time.perf_counter_ns() - t0) / 1e9)
            best_pass = min(best_pass, time.perf_counter() - started)
        return statistics.median(best), best_pass / len(bodies), len(bodies) / best_pass

    median, mean, rate = asyncio.run(run())
    bad = sum(n for s, n in statuses.items() if not 200 <= s < 300)
    return {"asgi_check_median_us": median * 1e6, "asgi_check_mean_us": mean * 1e6, "asgi_checks_per_s": rate,
            "asgi_non2xx": bad}


def _ledger_figures(engine: Any, texts: list[str], tmp: Path) -> dict[str, Any]:
    """``SqliteLedger.process`` in-process (check + record, one transaction, synchronous commit)."""
    from policy import Post
    from policy.store import SqliteLedger

    ledger = SqliteLedger(tmp / "inprocess.db")
    try:
        sample = texts[: min(len(texts), 500)]
        times = []
        for i, text in enumerate(sample):
            post = Post.from_dict(post_dict(text, i, "inproc"))
            t0 = time.perf_counter_ns()
            ledger.process(engine, post)
            times.append((time.perf_counter_ns() - t0) / 1e9)
    finally:
        ledger.close()
    times.sort()
    return {"process_posts": len(times), "process_median_us": statistics.median(times) * 1e6,
            "process_p99_us": times[min(len(times) - 1, int(0.99 * len(times)))] * 1e6,
            "process_per_s": len(times) / sum(times)}


# ---- the server -----------------------------------------------------------------------------------

def policy_command() -> list[str]:
    """``policy`` beside this interpreter (the virtualenv's), else ``python -m policy.cli``."""
    script = Path(sys.executable).parent / "policy"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "policy.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def add_key(db: Path) -> str:
    """Make a pipeline key in the ledger; ``policy key add`` prints it once."""
    done = subprocess.run([*policy_command(), "key", "add", "bench", "--role", "pipeline", "--db", str(db)],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"load_service: policy key add failed:\n{done.stderr.strip()}")
    found = re.search(r"\bpk_[A-Za-z0-9_\-]+", done.stdout)
    key = found.group(0) if found else done.stdout.strip().splitlines()[-1].strip()
    if not key:
        raise SystemExit(f"load_service: no key in the output of policy key add: {done.stdout!r}")
    return key


def _get(port: int, path: str, timeout: float = 2.0) -> int:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def group_cpu(pgid: int) -> float | None:
    """User + system CPU seconds of every live process in the group (None where /proc is missing)."""
    per = process_cpu(pgid)
    return None if per is None else sum(per.values())


def process_cpu(pgid: int) -> dict[int, float] | None:
    """CPU seconds of each live process in the group, by pid."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return None
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ...; utime, stime at 11, 12
            out[int(name)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def machine_busy() -> float | None:
    """CPU seconds the whole machine has been busy (all cores; /proc/stat), None where it is missing."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def running_server(workdir: Path, workers: int, port: int) -> Iterator[tuple[subprocess.Popen, str]]:
    """``policy serve`` on a fresh ledger with a pipeline key; stopped (the whole group) on leaving."""
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "ledger.db"
    key = add_key(db)
    log = open(workdir / "server.log", "wb")
    proc = subprocess.Popen([*policy_command(), "serve", "--db", str(db), "--port", str(port),
                             "--workers", str(workers)], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"load_service: policy serve exited with {proc.returncode}:\n{_tail(workdir)}")
            try:
                if _get(port, "/readyz") == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"load_service: /readyz did not answer 200 within 120 s:\n{_tail(workdir)}")
            time.sleep(0.1)
        if workers > 1:  # every worker loads the policy itself; give the others the time the first took
            time.sleep(1.0)
        yield proc, key
    finally:
        stop_group(proc)
        log.close()


def _tail(workdir: Path, lines: int = 30) -> str:
    try:
        return "\n".join((workdir / "server.log").read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group (uvicorn stops its workers), then SIGKILL whatever is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + 5
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


# ---- the load generators --------------------------------------------------------------------------

@dataclass
class Level:
    endpoint: str
    workers: int
    connections: int
    seconds: float
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    non2xx: int
    socket_errors: int
    statuses: dict[str, int] = field(default_factory=dict)
    server_cpu_us_per_req: float | None = None
    server_cores: float | None = None
    client_cores: float | None = None
    other_cores: float | None = None  # the rest of the machine (other people's jobs on a shared machine)
    worker_cores: list[float] = field(default_factory=list)  # the busiest server processes, busiest first


def run_wrk(url: str, lua: Path, bodies: Path, auth: str, prefix: str, connections: int,
            seconds: float, threads: int) -> tuple[dict[str, Any], float]:
    """One wrk run; its summary and the client's CPU seconds."""
    threads = max(1, min(threads, connections))
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s", "--timeout", "10s",
           "--latency", "-s", str(lua), url, "--", str(bodies), auth or "-", prefix]
    _child_cpu_since_last()  # the baseline: wrk is the only child waited for until the next call
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=seconds + 60)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    usage = _child_cpu_since_last()
    for line in out.decode(errors="replace").splitlines():
        if line.startswith("WRKJSON "):
            return json.loads(line[len("WRKJSON "):]), usage
    raise SystemExit(f"load_service: wrk printed no summary (exit {proc.returncode}):\n{out.decode()}\n{err.decode()}")


_CHILD_CPU = [0.0]


def _child_cpu_since_last() -> float:
    """CPU seconds of the children waited for since the last call."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = usage.ru_utime + usage.ru_stime
    delta, _CHILD_CPU[0] = total - _CHILD_CPU[0], total
    return delta


def run_python(port: int, path: str, texts: list[str], auth: str, prefix: str, connections: int,
               seconds: float) -> tuple[dict[str, Any], float]:
    """The fallback client: keep-alive HTTP/1.1 over raw asyncio streams; its summary and CPU seconds."""
    cpu0 = time.process_time()
    result = asyncio.run(_python_load(port, path, texts, auth, prefix, connections, seconds))
    return result, time.process_time() - cpu0


async def _python_load(port: int, path: str, texts: list[str], auth: str, prefix: str, connections: int,
                       seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = Counter[str]()
    counter = itertools.count(1)
    encoded = [json.dumps(t, ensure_ascii=False) for t in texts]
    head = (f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
            + (f"Authorization: {auth}\r\n" if auth else "") + "Content-Length: ").encode()
    started = time.perf_counter()
    deadline = started + seconds

    async def connection(tid: int) -> None:
        reader = writer = None
        while time.perf_counter() < deadline:
            if writer is None:
                try:
                    reader, writer = await asyncio.open_connection(HOST, port)
                except OSError:
                    errors["connect"] += 1
                    await asyncio.sleep(0.01)
                    continue
            assert reader is not None
            n = next(counter)
            text = encoded[(n - 1) % len(encoded)]
            body = f'{{"id":"{prefix}-{tid}-{n}","body":{text},"author":{{"id":"u{n % USERS}"}}}}'.encode()
            t0 = time.perf_counter()
            try:
                writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
                header = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                status = int(header[9:12])
                length = re.search(rb"(?im)^content-length:\s*(\d+)", header)
                if length is None:
                    raise ValueError("no content-length")
                await reader.readexactly(int(length.group(1)))
            except asyncio.TimeoutError:
                errors["timeout"] += 1
                writer.close()
                writer = None
                continue
            except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                errors["read"] += 1
                writer.close()
                writer = None
                continue
            latencies.append(time.perf_counter() - t0)
            statuses[status] += 1
            if re.search(rb"(?im)^connection:\s*close", header):
                writer.close()
                writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(connection(i + 1) for i in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, max(0, int(round(p / 100 * len(latencies))) - 1))] * 1e6 \
            if latencies else 0.0

    bad = {str(s): n for s, n in statuses.items() if not 200 <= s < 300}
    return {"requests": len(latencies), "duration_us": elapsed * 1e6, "p50_us": pct(50), "p90_us": pct(90),
            "p99_us": pct(99), "max_us": latencies[-1] * 1e6 if latencies else 0.0,
            "mean_us": statistics.fmean(latencies) * 1e6 if latencies else 0.0, "non2xx": sum(bad.values()),
            "connect": errors["connect"], "read": errors["read"], "write": 0, "timeout": errors["timeout"],
            "statuses": bad}


# ---- the run --------------------------------------------------------------------------------------

@dataclass
class Target:
    """Where one endpoint's load goes, and how it is generated."""
    client: str
    port: int
    path: str
    auth: str
    lua: Path
    bodies: Path
    texts: list[str]
    threads: int

    def load(self, connections: int, seconds: float, prefix: str) -> tuple[dict[str, Any], float]:
        if self.client == "wrk":
            return run_wrk(f"http://{HOST}:{self.port}{self.path}", self.lua, self.bodies, self.auth, prefix,
                           connections, seconds, self.threads)
        return run_python(self.port, self.path, self.texts, self.auth, prefix, connections, seconds)


def measure(args: argparse.Namespace, corpus: Corpus, tmp: Path, client: str) -> list[Level]:
    lua = tmp / "load.lua"
    lua.write_text(LUA, encoding="utf-8")
    bodies = tmp / "bodies.txt"
    bodies.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in corpus.texts), encoding="utf-8")
    rows: list[Level] = []
    run_id = f"{os.getpid():x}{int(time.time()) % 100000:05d}"
    for workers in args.workers:
        port = args.port or free_port()
        with running_server(tmp / f"workers-{workers}", workers, port) as (proc, key):
            for endpoint in args.endpoints:
                target = Target(client, port, f"/v1/{endpoint}", f"Bearer {key}" if endpoint == "process" else "",
                                lua, bodies, corpus.texts, args.client_threads)
                target.load(max(4, workers * 2), args.warmup, f"b{run_id}-w{workers}-warm")
                for connections in args.concurrency:
                    prefix = f"b{run_id}-w{workers}-c{connections}"
                    row = None
                    for attempt in range(args.retries + 1):
                        wait_quiet(proc.pid, args.quiet_wait)
                        row = _level(target, proc.pid, endpoint, workers, connections, args.seconds,
                                     f"{prefix}-{attempt}")
                        if row.other_cores is None or row.other_cores <= BUSY or attempt == args.retries:
                            break
                        print(f"  (other processes took {row.other_cores:.2f} of a core: measuring again)",
                              flush=True)
                    assert row is not None
                    rows.append(row)
                    split = "+".join(f"{c:.2f}" for c in row.worker_cores) if workers > 1 else ""
                    print(f"  {endpoint:8} workers={workers} c={connections:<3} {row.rps:9,.0f} req/s  "
                          f"p50 {row.p50_ms:7.2f} ms  p99 {row.p99_ms:7.2f} ms  errors {row.errors}  "
                          f"cores: server {row.server_cores or 0:.2f}{f' ({split})' if split else ''}, "
                          f"client {row.client_cores:.2f}, other {row.other_cores or 0:.2f}", flush=True)
    return rows


def _level(target: Target, pgid: int, endpoint: str, workers: int, connections: int, seconds: float,
           prefix: str) -> Level:
    """One measured level, with the CPU that the server, the client and everything else took meanwhile."""
    per0, busy0, wall0 = process_cpu(pgid), machine_busy(), time.monotonic()
    summary, client_cpu = target.load(connections, seconds, prefix)
    per1, busy1, wall1 = process_cpu(pgid), machine_busy(), time.monotonic()
    cpu0 = None if per0 is None else sum(per0.values())
    cpu1 = None if per1 is None else sum(per1.values())
    row = _row(endpoint, workers, connections, summary, client_cpu, cpu0, cpu1)
    if per0 is not None and per1 is not None:
        spent = sorted((t - per0.get(pid, 0.0) for pid, t in per1.items()), reverse=True)
        row.worker_cores = [round(t / (wall1 - wall0), 2) for t in spent[:workers]]
    if busy0 is not None and busy1 is not None and cpu0 is not None and cpu1 is not None:
        row.other_cores = max(0.0, ((busy1 - busy0) - (cpu1 - cpu0) - client_cpu) / (wall1 - wall0))
    return row


def wait_quiet(pgid: int, limit: float) -> None:
    """Wait (at most ``limit`` seconds) until the rest of the machine uses under BUSY of a core."""
    deadline = time.monotonic() + limit
    while True:
        cpu0, busy0 = group_cpu(pgid), machine_busy()
        time.sleep(0.5)
        cpu1, busy1 = group_cpu(pgid), machine_busy()
        if None in (cpu0, busy0, cpu1, busy1):
            return
        assert cpu0 is not None and busy0 is not None and cpu1 is not None and busy1 is not None
        if ((busy1 - busy0) - (cpu1 - cpu0)) / 0.5 <= BUSY or time.monotonic() > deadline:
            return


def _row(endpoint: str, workers: int, connections: int, s: dict[str, Any], client_cpu: float,
         cpu0: float | None, cpu1: float | None) -> Level:
    seconds = s["duration_us"] / 1e6
    sockets = s["connect"] + s["read"] + s["write"] + s["timeout"]
    server = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    return Level(endpoint, workers, connections, round(seconds, 2), s["requests"], s["requests"] / seconds,
                 s["p50_us"] / 1e3, s["p99_us"] / 1e3, s["max_us"] / 1e3, s["non2xx"] + sockets, s["non2xx"],
                 sockets, {str(k): v for k, v in s["statuses"].items()},
                 server / s["requests"] * 1e6 if server is not None and s["requests"] else None,
                 server / seconds if server is not None else None, client_cpu / seconds)


def overheads(rows: list[Level], engine: dict[str, Any]) -> dict[str, Any]:
    """The HTTP layer's cost per /v1/check request beyond the engine's check, both definitions."""
    out: dict[str, Any] = {}
    check = [r for r in rows if r.endpoint == "check"]
    first = [r for r in check if r.workers == 1 and r.connections == 1]
    if first:
        out["latency_c1_p50_us"] = first[0].p50_ms * 1e3
        out["latency_definition_us"] = first[0].p50_ms * 1e3 - engine["check_median_us"]
    one = [r for r in check if r.workers == 1]
    if one:
        best = max(one, key=lambda r: r.rps)
        out["saturation_rps_1_worker"] = best.rps
        out["saturation_connections"] = best.connections
        out["saturation_definition_us"] = 1e6 / best.rps - engine["check_mean_us"]
        if best.server_cpu_us_per_req is not None:
            out["server_cpu_us_per_req"] = best.server_cpu_us_per_req
            out["server_cpu_definition_us"] = best.server_cpu_us_per_req - engine["check_mean_us"]
    return out


def report(meta: dict[str, Any], engine: dict[str, Any], rows: list[Level], over: dict[str, Any]) -> str:
    """The Markdown table and the engine-only lines."""
    lines = [f"Load on `policy serve` ({meta['command']}), {meta['date']}, commit `{meta['commit']}`, "
             f"{meta['cores']} cores shared by server and client; client: {meta['client']}; "
             f"server: uvicorn {meta['uvicorn']} ({meta['http']}, {meta['loop']} loop); "
             f"{meta['seconds']:g} s per level; posts: {meta['corpus']}.", "",
             "| endpoint | workers | connections | req/s | p50 ms | p99 ms | errors | server CPU µs/req "
             "| server cores (per worker) | client cores | other cores |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cpu = "—" if r.server_cpu_us_per_req is None else f"{r.server_cpu_us_per_req:,.0f}"
        cores = "—" if r.server_cores is None else f"{r.server_cores:.2f}"
        if len(r.worker_cores) > 1:
            cores += f" ({' + '.join(f'{c:.2f}' for c in r.worker_cores)})"
        other = "—" if r.other_cores is None else f"{r.other_cores:.2f}"
        errors = str(r.errors) + (f" ({', '.join(f'{k}: {v}' for k, v in sorted(r.statuses.items()))}"
                                  f"{'; socket ' + str(r.socket_errors) if r.socket_errors else ''})"
                                  if r.errors else "")
        lines.append(f"| `/v1/{r.endpoint}` | {r.workers} | {r.connections} | {r.rps:,.0f} | {r.p50_ms:.2f} "
                     f"| {r.p99_ms:.2f} | {errors} | {cpu} | {cores} | {r.client_cores:.2f} | {other} |")
    lines += ["", f"Engine only, in-process, same {engine['posts']:,} posts: `check()` median "
              f"{engine['check_median_us']:.1f} µs (p99 {engine['check_p99_us']:.0f} µs, mean "
              f"{engine['check_mean_us']:.1f} µs), {engine['checks_per_s']:,.0f} checks/s on one core."]
    if "asgi_check_median_us" in engine:
        lines.append(f"The ASGI app in-process (`POST /v1/check` called as uvicorn calls it, no socket, no HTTP "
                     f"parsing): median {engine['asgi_check_median_us']:.1f} µs, {engine['asgi_checks_per_s']:,.0f}"
                     f"/s on one core ({engine['asgi_check_mean_us'] - engine['check_mean_us']:.0f} µs a request "
                     f"over the engine's mean).")
    elif "asgi_error" in engine:
        lines.append(f"The ASGI app in-process: not measured ({engine['asgi_error']}).")
    if "process_median_us" in engine:
        lines.append(f"`SqliteLedger.process` in-process (check + record, one synchronous transaction; "
                     f"{engine['process_posts']} posts): median {engine['process_median_us'] / 1e3:.2f} ms, p99 "
                     f"{engine['process_p99_us'] / 1e3:.2f} ms, {engine['process_per_s']:,.0f}/s.")
    elif "ledger_error" in engine:
        lines.append(f"`SqliteLedger.process` in-process: not measured ({engine['ledger_error']}).")
    if "latency_definition_us" in over:
        lines.append(f"HTTP overhead per `/v1/check` request, latency definition (p50 at 1 connection, 1 worker, "
                     f"{over['latency_c1_p50_us']:.0f} µs, minus the engine's median check; includes the client and "
                     f"the loopback round trip): {over['latency_definition_us']:.0f} µs.")
    if "saturation_definition_us" in over:
        text = (f"HTTP overhead per `/v1/check` request, throughput definition (1 worker = one process on at most one "
                f"core; 1 / its best {over['saturation_rps_1_worker']:,.0f} req/s at "
                f"{over['saturation_connections']} connections, minus the engine's mean check): "
                f"{over['saturation_definition_us']:.0f} µs")
        if "server_cpu_definition_us" in over:
            text += (f"; by the server's own CPU time ({over['server_cpu_us_per_req']:.0f} µs a request) minus the "
                     f"engine's mean: {over['server_cpu_definition_us']:.0f} µs")
        lines.append(text + ".")
    uneven = [r for r in rows if r.workers > 1 and r.connections >= r.workers and len(r.worker_cores) > 1
              and sum(r.worker_cores) > 0 and r.worker_cores[0] / sum(r.worker_cores) > 0.85]
    if uneven:
        where = ", ".join(f"`/v1/{r.endpoint}` at {r.connections}" for r in uneven)
        lines.append(f"NOTE: with more than one worker, one worker served nearly all connections at {where} "
                     f"connections (the per-worker cores): where the workers share one listening socket (not "
                     f"Linux: policy/service/workers.py), the first to wake accepts every connection waiting.")
    busy = [r for r in rows if r.other_cores is not None and r.other_cores > BUSY]
    if busy:
        lines.append(f"NOTE: other processes used more than {BUSY} of a core during {len(busy)} of {len(rows)} levels "
                     f"(up to {max(r.other_cores or 0 for r in busy):.2f}): those figures are low.")
    if not meta["real_data"]:
        lines.append("NOTE: the posts are the built-in list, not real data (../shared/data/ was not found).")
    return "\n".join(lines)


def metadata(args: argparse.Namespace, corpus: Corpus, client: str) -> dict[str, Any]:
    from importlib import metadata as md

    def has(module: str) -> bool:
        return importlib.util.find_spec(module) is not None

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT,
                            check=False).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True, cwd=ROOT, check=False).stdout.strip()
    if client == "wrk":
        version = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
        name = (version.stdout or version.stderr).split("Copyright")[0].strip() or "wrk"
        client_text = f"{name}, 1 thread, Lua script, --latency"
    else:
        client_text = "Python asyncio keep-alive HTTP/1.1 client (wrk not found)"
    argv = " ".join(sys.argv[1:])
    python = Path(sys.executable)
    with contextlib.suppress(ValueError):
        python = python.relative_to(ROOT)
    return {"command": f"{python} -m benchmarks.load_service {argv}".strip(),
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "commit": commit + ("+dirty" if dirty else ""),
            "cores": os.cpu_count(), "python": platform.python_version(), "uvicorn": md.version("uvicorn"),
            "http": "httptools" if has("httptools") else "h11 (pure Python; httptools not installed)",
            "loop": "uvloop" if has("uvloop") else "asyncio (uvloop not installed)", "client": client_text,
            "seconds": args.seconds, "corpus": corpus.source, "real_data": corpus.real,
            "workers": args.workers, "concurrency": args.concurrency}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.load_service", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=10.0, help="seconds per level (default 10)")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="server workers to try (default 1 2)")
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16, 64],
                   help="open connections per level (default 1 4 16 64)")
    p.add_argument("--endpoints", nargs="+", choices=["check", "process"], default=["check", "process"])
    p.add_argument("--quick", action="store_true", help="smoke run: 2 s per level, 1 and 8 connections")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument("--client", choices=["auto", "wrk", "python"], default="auto",
                   help="load generator (default: wrk when on PATH, else the Python client)")
    p.add_argument("--client-threads", type=int, default=1, help="wrk threads (default 1)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"development data (default {DEFAULT_DATA})")
    p.add_argument("--corpus", choices=sorted(CORPORA), default="cold", help="which comments (default cold)")
    p.add_argument("--posts", type=int, default=2000, help="how many comments to rotate through (default 2000)")
    p.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    p.add_argument("--retries", type=int, default=2,
                   help="measure a level again (up to this many times) when other processes took over "
                        f"{BUSY} of a core meanwhile (default 2)")
    p.add_argument("--quiet-wait", type=float, default=30.0,
                   help="before each level, wait up to this many seconds for the machine to be quiet (default 30)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (ledgers, server logs)")
    args = p.parse_args(argv)
    if args.quick:
        args.seconds, args.concurrency = 2.0, [1, 8]
    args.warmup = 1.0
    if args.seconds <= 0 or min(args.concurrency) < 1 or min(args.workers) < 1:
        p.error("--seconds, --concurrency and --workers must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    elif client == "wrk" and not shutil.which("wrk"):
        raise SystemExit("load_service: wrk is not on PATH (apt-get install -y wrk), or use --client python")
    if client == "wrk" and args.seconds != round(args.seconds):
        print(f"load_service: wrk runs whole seconds; {args.seconds:g} s rounds to {max(1, round(args.seconds))} s",
              file=sys.stderr)
    corpus = load_corpus(args.data, args.corpus, args.posts)
    if not corpus.real:
        print(f"load_service: {args.data} not found; using the built-in list of {len(corpus.texts)} comments",
              file=sys.stderr)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks: stop the server
    tmp = Path(tempfile.mkdtemp(prefix="load_service-"))
    try:
        meta = metadata(args, corpus, client)
        print(f"posts: {corpus.source}\nclient: {meta['client']}\nengine in-process ...", flush=True)
        engine = engine_figures(corpus.texts, tmp)
        print(f"  check() median {engine['check_median_us']:.1f} µs, {engine['checks_per_s']:,.0f}/s", flush=True)
        rows = measure(args, corpus, tmp, client)
    except KeyboardInterrupt:
        print("load_service: interrupted; the server was stopped", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print(f"load_service: kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    over = overheads(rows, engine)
    text = report(meta, engine, rows, over)
    print("\n" + text)
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "engine": engine, "rows": [asdict(r) for r in rows],
                                         "overhead": over}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
