"""``policy serve --workers N``: one socket per worker, a dead worker replaced, a clean stop."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from policy.service.workers import ServeError, balances_by_port, reuse_port_socket

from .conftest import free_port

pytestmark = pytest.mark.skipif(not balances_by_port(), reason="SO_REUSEPORT balances connections only on Linux")


def _health(port: int) -> dict:
    """GET /healthz on a new connection each time (the kernel picks a worker per connection)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
        return json.loads(response.read())


def _workers_answering(port: int, want: int, seconds: float = 60, besides: frozenset[int] = frozenset()) -> set[int]:
    """The workers that answer, until ``want`` of them not in ``besides`` have (or time runs out)."""
    seen: set[int] = set()
    deadline = time.monotonic() + seconds
    while len(seen - besides) < want and time.monotonic() < deadline:
        try:
            seen.add(_health(port)["worker"])
        except OSError:
            time.sleep(0.05)
    return seen


@pytest.fixture
def two_workers(tmp_path):
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "policy.cli", "serve", "--db", str(tmp_path / "ledger.db"),
                               "--port", str(port), "--workers", "2"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    yield server, port
    if server.poll() is None:
        server.kill()
        server.wait(timeout=10)


def test_two_workers_each_take_connections_and_a_killed_one_is_replaced(two_workers):
    server, port = two_workers
    first = _workers_answering(port, 2)
    assert len(first) == 2, f"expected both workers to answer; stderr: {server.stderr.read1().decode()}"

    killed = min(first)
    os.kill(killed, signal.SIGKILL)
    replacement = _workers_answering(port, 1, besides=frozenset(first)) - first
    assert len(replacement) == 1, "no new worker took the killed one's place"
    assert _workers_answering(port, 2) == first - {killed} | replacement

    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=40) == 0
    assert "replacing it" in server.stderr.read().decode()
    with pytest.raises(OSError):
        _health(port)


def test_a_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServeError, match=f"cannot listen on 127.0.0.1:{port}"):
            reuse_port_socket("127.0.0.1", port)
        done = subprocess.run([sys.executable, "-m", "policy.cli", "serve", "--db", str(tmp_path / "l.db"),
                               "--port", str(port), "--workers", "2"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr
