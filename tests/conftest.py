"""Shared helpers: write a small policy to a temporary folder and load it."""

from __future__ import annotations

import contextlib
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


# ---- the ledger on both backends -----------------------------------------------------------------

PG_ENV = "POLICY_TEST_PG"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgres")


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The PostgreSQL server the tests use: ``$POLICY_TEST_PG``, else the local default.  Missing,
    the PostgreSQL tests skip (outside CI) or fail (in CI, where the server must be there)."""
    url = os.environ.get(PG_ENV, DEFAULT_PG)
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=3).close()
    except Exception as error:  # noqa: BLE001 - any reason means no server to test against
        message = (f"no PostgreSQL server at {url} ({str(error).strip().splitlines()[0] if str(error) else error}); "
                   f"set {PG_ENV}=postgresql://user@host/db to run the PostgreSQL ledger tests")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


def pg_raw(url: str):
    """A plain autocommit connection to the test database (the schema in ``url``'s search_path)."""
    import psycopg

    return psycopg.connect(url, autocommit=True)


@pytest.fixture
def pg_database(pg_server):
    """A URL of the test server whose search_path is a fresh schema, dropped afterwards, with every
    ledger opened on it closed first."""
    import gc
    import uuid

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with pg_raw(pg_server) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in pg_server else "?"
    url = f"{pg_server}{joiner}options=-csearch_path%3D{schema}"
    yield url
    from policy.store.postgres import PostgresLedger

    for thing in gc.get_objects():
        if isinstance(thing, PostgresLedger) and thing.url == url:
            thing.close()
    with pg_raw(pg_server) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=BACKENDS)
def ledger_target(request, tmp_path) -> str:
    """What names a fresh, empty ledger: a SQLite file, then a PostgreSQL database (each test that
    takes this runs on both backends)."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    return request.getfixturevalue("pg_database")


def raw_sql(target: str, script: str) -> None:
    """Run SQL on the ledger's database behind the ledger's back (an attacker with write access)."""
    from policy.store import is_server_url

    if is_server_url(target):
        with pg_raw(target) as conn:
            for statement in filter(str.strip, script.split(";")):
                conn.execute(statement)
        return
    import sqlite3

    db = sqlite3.connect(target)
    db.executescript(script)
    db.close()


# ---- a real `policy serve` -----------------------------------------------------------------------

def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def policy_serve(*args: str):
    """``policy serve ARGS --port P`` as a subprocess: yields (base URL, /readyz's answer) once it
    answers, and stops the server afterwards."""
    import json
    import subprocess
    import sys
    import time
    import urllib.request

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "policy.cli", "serve", *args, "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=1) as response:
                    ready = json.loads(response.read())
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("policy serve did not come up: " + server.stderr.read1().decode())
        yield base, ready
    finally:
        server.terminate()
        server.wait(timeout=20)
