"""The engine over HTTP: an ASGI application (FastAPI), run by ``policy serve`` under uvicorn.

    app = create_app(LiveEngine())              # the bundled convention, no ledger
    app = create_app(LiveEngine(path), ledger_path="ledger.db")

Posts are read from the request body with :meth:`Post.from_dict`, as ``policy scan`` reads a line,
and verdicts are written by :meth:`Verdict.to_json`; the pydantic models of
:mod:`policy.service.schemas` only describe both in the OpenAPI document.  Every error is JSON
``{"error": {"code", "message"}}`` with a 4xx status for the caller's mistakes; an unexpected one is
a 500 with code ``internal`` and no traceback.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, MutableMapping
from typing import Any

try:
    import fcntl
except ImportError:  # not on Windows: the write lock orders one process's threads only
    fcntl = None  # type: ignore[assignment]

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from policy.engine.live import LiveEngine
from policy.model.post import Post, PostError
from policy.model.verdict import Verdict
from policy.service.actions import reload_policy
from policy.service.console import mount_console
from policy.service.direct import DirectRoutes, Receive, Scope, Send
from policy.service.errors import ApiError, error_response
from policy.service.metrics import Metrics
from policy.service.reviewer import reviewer_routes
from policy.service.schemas import (
    MAX_BATCH,
    AppealIn,
    AppealOut,
    BatchIn,
    BatchOut,
    ErrorOut,
    Health,
    PostIn,
    Ready,
    ReloadOut,
    ReportIn,
    ReportOut,
    VerdictOut,
)
from policy.store import LedgerError, LedgerUnavailable, SqlLedger, UnknownRecord, describe, is_server_url, open_ledger

MAX_BODY_BYTES = 1 << 20
"""The largest request body accepted (a batch of long posts included); larger ones get 413."""

API_VERSION = "1"

ERRORS = {400: {"model": ErrorOut, "description": "the body is not JSON, or not a post"},
          413: {"model": ErrorOut, "description": f"the body is over {MAX_BODY_BYTES:,} bytes"},
          422: {"model": ErrorOut, "description": "the body does not match the schema"}}
AUTH_ERRORS = {401: {"model": ErrorOut, "description": "no API key, or one that is unknown or revoked"},
               403: {"model": ErrorOut, "description": "the key's role may not do this"},
               503: {"model": ErrorOut, "description": "the service runs without a ledger"}}
LEDGER_ERRORS = {404: {"model": ErrorOut, "description": "the post or verdict is not in the ledger"},
                 409: {"model": ErrorOut, "description": "the ledger refuses (e.g. an appeal already open)"}}


class BodyLimit:
    """Refuse a request body over ``limit`` bytes, by Content-Length or as it streams in."""

    def __init__(self, app: Callable, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def limited() -> MutableMapping[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise ApiError(413, "too_large", f"the request body is over {self.limit:,} bytes")
            return message

        await self.app(scope, limited, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, "too_large", f"the request body is over {self.limit:,} bytes")
        await response(scope, receive, send)


class WriteLock:
    """Held around each write of the pipeline's endpoints (process, reports, appeals), so that writers
    queue in the kernel instead of contending through SQLite's busy handler, which sleeps and polls
    and starved some requests for seconds under load (``benchmarks/load_service.py``).

    A thread lock orders the threads of one worker; an ``flock`` on ``PATH.lock`` beside the ledger
    orders the worker processes of ``policy serve --workers N`` (where there is no ``fcntl``, only
    the thread lock is taken)."""

    def __init__(self, path: str | None):
        self._threads = threading.Lock()
        self._lock_path = None if path is None or fcntl is None else f"{path}.lock"
        self._file: Any = None

    def __enter__(self) -> WriteLock:
        self._threads.acquire()
        try:
            if self._lock_path is not None:
                if self._file is None:
                    self._file = open(self._lock_path, "a")  # noqa: SIM115 - held for the process's life
                fcntl.flock(self._file, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._file is not None:
                fcntl.flock(self._file, fcntl.LOCK_UN)
        finally:
            self._threads.release()


class Ledgers:
    """The ledger each request thread uses: for SQLite one connection per thread (a connection
    serves one thread at a time) and writes queued on :class:`WriteLock`; for PostgreSQL one
    ledger per process, whose connection pool serves every thread, and the database orders the
    writes itself."""

    def __init__(self, target: str | None):
        self.path = target
        self.shown = describe(target) if target is not None else "none"
        """The ledger as ``/readyz`` names it (a URL without its password)."""
        self.shared = target is not None and is_server_url(target)
        self._local = threading.local()
        self._opening = threading.Lock()
        self._shared_ledger: SqlLedger | None = None
        self.writing: Any = contextlib.nullcontext() if self.shared else WriteLock(target)

    def get(self) -> SqlLedger:
        if self.path is None:
            raise ApiError(503, "no_ledger", "the service runs without a ledger; start it with --db")
        if self.shared:
            with self._opening:
                if self._shared_ledger is None:
                    self._shared_ledger = open_ledger(self.path, pool_size=8)
                return self._shared_ledger
        ledger = getattr(self._local, "ledger", None)
        if ledger is None:
            ledger = self._local.ledger = open_ledger(self.path)
        return ledger

    def close(self) -> None:
        if self._shared_ledger is not None:
            self._shared_ledger.close()
            self._shared_ledger = None


def _post(data: Any, where: str = "") -> Post:
    try:
        return Post.from_dict(data)
    except PostError as error:
        raise ApiError(400, "invalid_post", f"{where}{error}") from None


def _loads(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(400, "invalid_json", f"the body is not JSON: {error}") from None


async def _raw_body(request: Request) -> bytes:
    """The body, read on the event loop (a dependency, so that a sync route gets it as bytes)."""
    return await request.body()


def _schema_body(model: type) -> dict:
    """An ``openapi_extra`` request body that names a model (the route reads the raw body)."""
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


def create_app(live: LiveEngine, ledger_path: str | None = None) -> FastAPI:
    """The service: ``live`` checks posts (and reloads its policy); ``ledger_path`` names the
    ledger (a SQLite file or a ``postgresql://`` URL) that ``/readyz`` checks and the endpoints
    record in (None: none)."""
    metrics = Metrics()
    ledgers = Ledgers(ledger_path)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        ledgers.close()  # a PostgreSQL pool's connections, when the server stops

    app = FastAPI(title="policy engine", version=API_VERSION, docs_url=None, redoc_url=None, lifespan=lifespan,
                  telemetry={"tracing": False, "metrics": False, "logs": False},  # 9 µs a request to look for providers
                  description="A content-policy rule engine: check posts against the community convention.")
    reviewers = reviewer_routes(live, ledgers)
    app.state.live, app.state.ledgers, app.state.metrics = live, ledgers, metrics

    def check(post: Post) -> Verdict:
        started = time.perf_counter()
        verdict = live.check(post)
        metrics.observe(verdict, time.perf_counter() - started)
        return verdict

    def check_one_body(body: bytes) -> bytes:
        return check(_post(_loads(body))).to_json().encode()

    def check_batch_body(body: bytes) -> bytes:
        data = _loads(body)
        posts = data.get("posts") if isinstance(data, dict) else None
        if not isinstance(posts, list):
            raise ApiError(400, "invalid_post", "the body must be an object with a list 'posts'")
        if len(posts) > MAX_BATCH:
            raise ApiError(400, "invalid_post", f"a batch holds at most {MAX_BATCH} posts, not {len(posts)}")
        parsed = [_post(p, f"posts[{i}]: ") for i, p in enumerate(posts)]
        return ('{"verdicts":[' + ",".join(check(p).to_json() for p in parsed) + "]}").encode()

    bearer = HTTPBearer(auto_error=False, description="an API key from `policy key add NAME --role R`")

    def client(*roles: str) -> Callable[..., tuple[str, str]]:
        """A dependency: the (name, role) of the API key presented, which must have one of ``roles``."""
        def authenticate(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> tuple[str, str]:
            if credentials is None:
                raise ApiError(401, "unauthenticated", "this endpoint needs an API key: Authorization: Bearer KEY")
            ledger = ledgers.get()
            found = ledger.api_key(credentials.credentials)
            if found is None and "admin" in roles:  # an admin reviewer's session will do as well
                found = ledger.session(credentials.credentials)
            if found is None:
                raise ApiError(401, "unauthenticated", "the API key is unknown or revoked")
            if found[1] not in roles:
                raise ApiError(403, "forbidden", f"the role {found[1]!r} may not do this")
            return found
        return authenticate

    pipeline, admin = client("pipeline", "admin"), client("admin")

    @app.exception_handler(UnknownRecord)
    async def unknown(request: Request, error: UnknownRecord) -> JSONResponse:
        return error_response(404, "not_found", str(error))

    @app.exception_handler(LedgerUnavailable)
    async def unavailable(request: Request, error: LedgerUnavailable) -> JSONResponse:
        return error_response(503, "ledger_unavailable", str(error))

    @app.exception_handler(LedgerError)
    async def refused(request: Request, error: LedgerError) -> JSONResponse:
        return error_response(409, "refused", str(error))

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.code, error.message, error.details)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        details = [{"where": ".".join(str(p) for p in e.get("loc", ())), "problem": str(e.get("msg", ""))}
                   for e in error.errors()]
        return error_response(422, "invalid_request", "the request does not match the schema", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        codes = {400: "invalid_json", 404: "not_found", 405: "method_not_allowed"}
        response = error_response(error.status_code, codes.get(error.status_code, "http_error"), str(error.detail))
        response.headers.update(error.headers or {})
        if error.status_code == 405:  # Allow names the methods of every route on the path, not the first one's
            path = request.url.path
            methods = {m for route in (*app.routes, *reviewers.routes) if isinstance(route, APIRoute)
                       and route.path_regex.match(path) for m in route.methods}
            response.headers["Allow"] = ", ".join(sorted(methods))
        return response

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> JSONResponse:
        return error_response(500, "internal", "the service failed on this request; it is logged")

    mount_console(app, live, ledgers)

    @app.get("/healthz", response_model=Health, tags=["operations"], summary="the process is up")
    async def healthz() -> dict:
        return {"status": "ok", "worker": os.getpid()}

    @app.get("/readyz", response_model=Ready, tags=["operations"],
             responses={503: {"model": Ready, "description": "not ready: the ledger is unreachable"}},
             summary="the policy is loaded and the ledger reachable")
    def readyz() -> Any:
        engine = live.engine
        policy = {"name": engine.policy.name, "version": engine.version}
        if ledgers.path is None:
            return {"status": "ready", "policy": policy, "ledger": "none"}
        try:
            ledgers.get().schema_version()
        except (LedgerError, OSError) as error:
            return JSONResponse({"status": "unavailable", "policy": policy, "ledger": ledgers.shown,
                                 "problem": str(error)}, status_code=503)
        return {"status": "ready", "policy": policy, "ledger": ledgers.shown}

    @app.get("/metrics", response_class=PlainTextResponse, tags=["operations"],
             summary="Prometheus text format: checks by decision and rule, latency, policy version, brakes")
    def metrics_text() -> Response:
        tripped = None
        if ledgers.path is not None:
            try:
                tripped = len(ledgers.get().brake_status()["tripped"])
            except LedgerError:
                tripped = None
        engine = live.engine
        body, content_type = metrics.render(engine.policy.name, engine.version, tripped)
        return Response(body, media_type=content_type)

    @app.post("/v1/check", tags=["pipeline"], summary="check one post; nothing is recorded",
              response_model=None, openapi_extra=_schema_body(PostIn),
              responses={200: {"model": VerdictOut, "description": "the verdict"}, **ERRORS})
    async def check_one(request: Request) -> Response:
        return Response(check_one_body(await request.body()), media_type="application/json")

    @app.post("/v1/check/batch", tags=["pipeline"], summary=f"check up to {MAX_BATCH} posts; nothing is recorded",
              response_model=None, openapi_extra=_schema_body(BatchIn),
              responses={200: {"model": BatchOut, "description": "one verdict a post, in order"}, **ERRORS})
    async def check_batch(request: Request) -> Response:
        return Response(check_batch_body(await request.body()), media_type="application/json")

    @app.post("/v1/process", tags=["pipeline"], summary="check a post and record verdict, strike and sanction",
              response_model=None, openapi_extra=_schema_body(PostIn),
              responses={200: {"model": VerdictOut, "description": "the verdict as recorded"}, **ERRORS,
                         **AUTH_ERRORS})
    def process(request: Request, body: bytes = Depends(_raw_body),
                key: tuple[str, str] = Depends(pipeline)) -> Response:
        post = _post(_loads(body))
        started = time.perf_counter()
        with ledgers.writing:
            verdict = ledgers.get().process(live.engine, post)
        metrics.observe(verdict, time.perf_counter() - started)
        return Response(verdict.to_json(), media_type="application/json")

    @app.post("/v1/reports", tags=["pipeline"], response_model=ReportOut, summary="a user's report against a post",
              responses={**AUTH_ERRORS, **LEDGER_ERRORS, 400: ERRORS[400], 422: ERRORS[422]})
    def report(body: ReportIn, key: tuple[str, str] = Depends(pipeline)) -> dict:
        with ledgers.writing:
            return {"report_id": ledgers.get().report(body.post_id, body.reporter, body.reason)}

    @app.post("/v1/appeals", tags=["pipeline"], response_model=AppealOut, summary="a user's appeal of a verdict",
              responses={**AUTH_ERRORS, **LEDGER_ERRORS, 400: ERRORS[400], 422: ERRORS[422]})
    def appeal(body: AppealIn, key: tuple[str, str] = Depends(pipeline)) -> dict:
        with ledgers.writing:
            return {"appeal_id": ledgers.get().appeal(body.verdict_id, body.reason, user=body.user)}

    @app.post("/v1/policy/reload", tags=["admin"], response_model=ReloadOut,
              summary="load the policy files again; a policy with errors is refused and the old one keeps serving",
              responses={409: {"model": ReloadOut, "description": "refused: the diagnostics say why"},
                         **AUTH_ERRORS})
    def reload(key: tuple[str, str] = Depends(admin)) -> Any:
        body = reload_policy(live, ledgers.get(), key[0])
        return body if body["loaded"] else JSONResponse(body, status_code=409)

    app.include_router(reviewers)

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (PostIn, BatchIn):
                found = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(found.pop("$defs", {}))
                components[model.__name__] = found
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(DirectRoutes, routes={  # inside the body limit, whose 413 it answers as JSON
        ("POST", "/v1/check"): check_one_body, ("POST", "/v1/check/batch"): check_batch_body})
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    return app


def app_from_env() -> FastAPI:
    """The application ``policy serve`` runs in each uvicorn worker, configured by the environment
    it sets: ``POLICY_SERVE_POLICY`` (a policy folder; unset: the bundled convention),
    ``POLICY_SERVE_CACHE`` (the compiled-policy cache) and ``POLICY_DB`` (the SQLite ledger)."""
    live = LiveEngine(os.environ.get("POLICY_SERVE_POLICY") or None,
                      cache_dir=os.environ.get("POLICY_SERVE_CACHE") or None,
                      on_reload=lambda result: result.loaded and freeze_heap())
    app = create_app(live, os.environ.get("POLICY_DB") or None)
    freeze_heap()
    return app


def freeze_heap() -> None:
    """Put everything alive now, the compiled policy above all, out of the garbage collector's sight.

    A loaded policy is about 300,000 objects; a full collection walks them all in about 75 ms, and
    the request that happened to trigger it waited that long: the p99 at 64 connections on one
    worker was 100 ms before this and 18 ms after (``benchmarks/load_service.py``).  Called again after a reload, so
    that the old policy can be collected and the new one is frozen in turn."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
