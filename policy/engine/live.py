"""Hot reload: a running engine that swaps to a new policy version atomically.

    live = LiveEngine("conventions", on_reload=print)
    live.check(post)            # the current version
    live.reload()               # or live.watch(): reload when the files change

The swap is one reference assignment: a check already running keeps the engine
it started with, every check after the swap uses the new one, and a policy
that fails the checker is never swapped in (the old one keeps running and the
failure is reported).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policy.engine.pipeline import Engine
from policy.lang.diagnostics import Diagnostic, PolicyError
from policy.lang.resources import bundled_convention
from policy.lang.sources import SourceError
from policy.model.verdict import Verdict


@dataclass(frozen=True)
class ReloadResult:
    loaded: bool
    version: str
    """The version running after the attempt (the old one when it failed)."""
    previous: str
    error: str | None = None
    diagnostics: tuple[Diagnostic, ...] = field(default=())


class LiveEngine:
    def __init__(self, path: str | Path | None = None, cache_dir: str | Path | None = None,
                 on_reload: Callable[[ReloadResult], None] | None = None, **options: Any):
        self.path = Path(path) if path is not None else bundled_convention()
        self.cache_dir = cache_dir
        self.options = options
        self.on_reload = on_reload
        self._engine = Engine.load(self.path, cache_dir=cache_dir, **options)
        self._reload_lock = threading.Lock()
        self._stamp = self._files_stamp()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def version(self) -> str:
        return self._engine.version

    def check(self, post: Any, **kwargs: Any) -> Verdict:
        engine = self._engine  # read once: a swap during this check does not affect it
        return engine.check(post, **kwargs)

    def reload(self) -> ReloadResult:
        with self._reload_lock:
            previous = self._engine.version
            try:
                fresh = Engine.load(self.path, cache_dir=self.cache_dir, **self.options)
            except PolicyError as error:
                result = ReloadResult(False, previous, previous, str(error), tuple(error.diagnostics))
            except SourceError as error:
                result = ReloadResult(False, previous, previous, str(error))
            else:
                self._engine = fresh
                result = ReloadResult(True, fresh.version, previous)
            self._stamp = self._files_stamp()
        if self.on_reload is not None:
            self.on_reload(result)
        return result

    # ---- watching the files ------------------------------------------------------------------
    def _files_stamp(self) -> str:
        """A hash of every file under the policy folder (rule files and term files)."""
        digest = hashlib.sha256()
        root = self.path if self.path.is_dir() else self.path.parent
        try:
            for file in sorted(p for p in root.rglob("*") if p.is_file()):
                stat = file.stat()
                digest.update(f"{file}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode("utf-8", "surrogateescape"))
        except OSError:
            pass
        return digest.hexdigest()

    def poll(self) -> ReloadResult | None:
        """Reload when the files changed since the last load; None when they did not."""
        if self._files_stamp() == self._stamp:
            return None
        return self.reload()

    def watch(self, interval: float = 1.0) -> None:
        """Poll the files every ``interval`` seconds in a background thread."""
        if self._watcher is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval):
                self.poll()

        self._watcher = threading.Thread(target=loop, name="policy-watch", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
            self._watcher = None
