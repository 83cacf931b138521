"""``policy serve --workers N``: N worker processes, each with its own listening socket.

uvicorn's own supervisor opens one socket and shares it between its workers; whichever worker
wakes first accepts every connection waiting, so keep-alive clients that connect together can all
land on one worker while the other idles (``benchmarks/load_service.py`` saw it: one worker took
over 85% of the work at some levels).  Here each worker binds its own socket to the same address
with ``SO_REUSEPORT``, and the kernel spreads new connections over the workers' sockets by a hash
of the connection.  Where that option is missing or does not balance (it does on Linux),
:func:`serve` hands over to uvicorn's supervisor instead.

The supervisor holds the address while it runs (a bound socket that does not listen, so it takes
no connections), restarts a worker that dies, gives up with a clear message when workers keep
dying as they start, and stops every worker on SIGINT or SIGTERM.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import time
from typing import Any

APP = "policy.service.app:app_from_env"
STARTUP_GRACE = 10.0
"""A worker that exits within this many seconds of its start counts as failing to start."""
START_FAILURES = 3
"""After this many failed starts in a row the supervisor stops instead of restarting."""


class ServeError(Exception):
    """The workers could not be started or kept running; the message says why."""


def balances_by_port() -> bool:
    """Whether ``SO_REUSEPORT`` here spreads connections over the sockets that share a port."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` that others of this user may bind as well."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return sock


def _worker(host: str, port: int, options: dict[str, Any]) -> None:  # pragma: no cover - runs in the child
    """One worker: its own socket on the shared address, and uvicorn serving the app on it."""
    import uvicorn

    sock = reuse_port_socket(host, port)
    sock.listen(options.pop("backlog", 2048))
    config = uvicorn.Config(APP, factory=True, host=host, port=port, **options)
    uvicorn.Server(config).run(sockets=[sock])


class Supervisor:
    """Starts ``workers`` processes on ``host:port`` and keeps them running until told to stop."""

    def __init__(self, host: str, port: int, workers: int, options: dict[str, Any]):
        self.host, self.port, self.count, self.options = host, port, workers, options
        self.context = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited state
        self.processes: list[Any] = []
        self.started: list[float] = []
        self.failures = 0
        self.stopping = False

    def _start(self) -> tuple[Any, float]:
        process = self.context.Process(target=_worker, args=(self.host, self.port, dict(self.options)),
                                       name="policy-serve-worker", daemon=False)
        process.start()
        return process, time.monotonic()

    def _stop(self, signum: int, frame: Any) -> None:
        self.stopping = True

    def run(self) -> None:
        """Serve until SIGINT or SIGTERM; raises ServeError when the workers cannot stay up."""
        guard = reuse_port_socket(self.host, self.port)  # the address is ours (and free) before any worker
        previous = {s: signal.signal(s, self._stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for _ in range(self.count):
                process, at = self._start()
                self.processes.append(process)
                self.started.append(at)
            while not self.stopping:
                time.sleep(0.2)
                self._replace_dead()
        finally:
            self._terminate_all()
            for s, handler in previous.items():
                signal.signal(s, handler)
            guard.close()

    def _replace_dead(self) -> None:
        for i, process in enumerate(self.processes):
            if process.is_alive() or self.stopping:
                continue
            process.join()
            quick = time.monotonic() - self.started[i] < STARTUP_GRACE
            self.failures = self.failures + 1 if quick else 0
            if self.failures >= START_FAILURES:
                raise ServeError(f"workers keep exiting as they start (the last with code {process.exitcode}); "
                                 f"see the messages above")
            print(f"policy serve: worker {process.pid} exited with code {process.exitcode}; replacing it",
                  file=sys.stderr)
            self.processes[i], self.started[i] = self._start()

    def _terminate_all(self) -> None:
        for process in self.processes:
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)  # uvicorn finishes the requests in flight, then exits
        deadline = time.monotonic() + 30
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()


def serve(host: str, port: int, workers: int, log_level: str = "warning") -> None:
    """Run the service from the environment ``policy serve`` set up: one process when ``workers``
    is 1, else a supervisor of ``workers`` processes (one socket each where the kernel balances)."""
    import uvicorn

    if workers == 1 or not balances_by_port():
        uvicorn.run(APP, factory=True, host=host, port=port, workers=workers, log_level=log_level)
        return
    Supervisor(host, port, workers, {"log_level": log_level}).run()
