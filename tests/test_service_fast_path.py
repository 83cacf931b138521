"""What makes the service fast under load, and must not change what it answers: the direct routes
ahead of FastAPI, the write lock shared by worker processes, and the frozen heap."""

import asyncio
import gc
import json
import subprocess
import sys

import pytest

from policy.service.app import BodyLimit, WriteLock, freeze_heap
from policy.service.direct import DirectRoutes
from policy.service.errors import ApiError


async def fallback(scope, receive, send):
    """The app behind the direct routes: answers 299 to anything, so a test sees what passed through."""
    await send({"type": "http.response.start", "status": 299, "headers": []})
    await send({"type": "http.response.body", "body": b"fallback"})


def shout(body: bytes) -> bytes:
    text = json.loads(body)["text"]
    if text == "refuse":
        raise ApiError(400, "invalid_post", "refused by the handler")
    if text == "crash":
        raise RuntimeError("a bug")
    return json.dumps({"text": text.upper()}).encode()


def call(app, method: str, path: str, chunks: list[bytes], length: int | None = None) -> tuple[int, bytes]:
    """One request through ``app`` as uvicorn would make it, the body in ``chunks``."""
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    headers = [(b"content-length", str(length).encode())] if length is not None else []
    scope = {"type": "http", "method": method, "path": path, "headers": headers}
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    async def run():
        try:
            await app(scope, receive, send)
        except RuntimeError:
            pass  # a crash is re-raised for the server to log, after the 500 went out

    asyncio.run(run())
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.fixture
def app():
    """The direct routes inside the body limit, as ``create_app`` stacks them."""
    return BodyLimit(DirectRoutes(fallback, {("POST", "/shout"): shout}), limit=64)


def test_a_direct_route_answers_from_its_handler_and_everything_else_passes_through(app):
    assert call(app, "POST", "/shout", [b'{"text": "', b'hi"}']) == (200, b'{"text": "HI"}')
    assert call(app, "GET", "/shout", [b""]) == (299, b"fallback")
    assert call(app, "POST", "/other", [b"{}"]) == (299, b"fallback")


def test_a_direct_route_refuses_as_the_api_does(app):
    status, body = call(app, "POST", "/shout", [b'{"text": "refuse"}'])
    assert status == 400
    assert json.loads(body) == {"error": {"code": "invalid_post", "message": "refused by the handler"}}
    status, body = call(app, "POST", "/shout", [b'{"text": "crash"}'])
    assert status == 500 and json.loads(body)["error"]["code"] == "internal" and b"a bug" not in body


def test_a_body_over_the_limit_is_refused_whether_declared_or_streamed(app):
    assert call(app, "POST", "/shout", [b"{}"], length=65)[0] == 413
    assert call(app, "POST", "/shout", [b"{}"], length="lots")[0] == 413  # type: ignore[arg-type]
    status, body = call(app, "POST", "/shout", [b"x" * 40, b"x" * 40])  # no length: counted as it comes
    assert status == 413 and json.loads(body)["error"]["code"] == "too_large"


def test_the_write_lock_keeps_out_another_process_until_it_is_released(tmp_path):
    ledger = tmp_path / "ledger.db"
    probe = ("import fcntl, sys\nf = open(sys.argv[1], 'a')\n"
             "try:\n    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept BlockingIOError:\n    sys.exit(3)\n")

    def other_process_can_lock() -> bool:
        return subprocess.run([sys.executable, "-c", probe, f"{ledger}.lock"]).returncode == 0

    lock = WriteLock(str(ledger))
    with lock:
        assert not other_process_can_lock()
    assert other_process_can_lock()
    with lock:  # and again: the lock file stays open, the lock does not
        assert not other_process_can_lock()


def test_the_heap_is_frozen_out_of_the_collectors_sight():
    try:
        freeze_heap()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
