"""The pipeline's hottest endpoints served straight from ASGI, ahead of FastAPI's routing.

A ``/v1/check`` through FastAPI spent about 100 µs in the framework (matching the request against
every route of the API and the console, building the request object, the exception middleware and
the dependency machinery), twice the engine's own median check.  :class:`DirectRoutes` answers a
few exact ``(method, path)`` pairs itself: it reads the body (inside ``BodyLimit``), calls a
handler that turns the body into response bytes, and writes the response, so that what a check
costs over HTTP is mostly the HTTP parsing and the engine (``benchmarks/load_service.py``).

The same handlers back the FastAPI routes of those paths, which stay declared for the OpenAPI
document (and answer when the app is used without this middleware), so both answer alike; errors
are the API's usual ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from policy.service.errors import ApiError, error_response

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Handler = Callable[[bytes], bytes]
"""The body of a request to the body of its 200 response (JSON); raises ApiError to refuse."""

JSON_HEADERS = [(b"content-type", b"application/json")]


class DirectRoutes:
    """ASGI middleware: ``routes`` maps ``(method, path)`` to a handler; everything else goes on to ``app``."""

    def __init__(self, app: Callable, routes: dict[tuple[str, str], Handler]):
        self.app, self.routes = app, routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.routes.get((scope.get("method", ""), scope.get("path", ""))) if scope["type"] == "http" else None
        if handler is None:
            await self.app(scope, receive, send)
            return
        try:
            body = await self._body(receive)
            answer = handler(body)
        except ApiError as error:
            await error_response(error.status, error.code, error.message, error.details)(scope, receive, send)
            return
        except Exception:  # the same answer FastAPI's handler gives: logged by the server, no traceback out
            await error_response(500, "internal", "the service failed on this request; it is logged")(
                scope, receive, send)
            raise
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*JSON_HEADERS, (b"content-length", str(len(answer)).encode())]})
        await send({"type": "http.response.body", "body": answer})

    @staticmethod
    async def _body(receive: Receive) -> bytes:
        """The whole request body (its size is the business of the ``BodyLimit`` outside this)."""
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ApiError(400, "invalid_json", "the client went away before the body was sent")
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
