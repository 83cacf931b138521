"""Which per-post path runs: the compiled core (``policy._core``, built from ``policy/_core.c`` by
the package's build) or pure Python, the fallback and the oracle it is tested against.

``POLICY_PURE_PYTHON=1`` asks for pure Python; without a C compiler at install time the module is
absent and pure Python runs anyway.  ``PATH`` says which, and why (``policy --version`` prints it).

Both paths meet in a :class:`Scanner`: ``scan_text`` normalizes a text field with a profile's table,
encodes it and runs the policy's automaton over it, answering None for a clean text.  The compiled
scanner does all of that in one call into C (:func:`normalizer_for` gives the table's flat form).
"""

from __future__ import annotations

import os
import sys
from array import array
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from policy.text.normalize import Table, normalize, normalized_text, strip_emoticons

if TYPE_CHECKING:
    import ahocorasick

    from policy.compiler.compiled import CompiledPolicy

PURE_PYTHON_ENV = "POLICY_PURE_PYTHON"

RawPass = tuple[bytes, "list[tuple[int, int]] | bytes", set[int]]
"""What a scan found in a text: its normalized form as UTF-8, the automaton's (end byte, key
number) hits in it (a list on the pure-Python path, packed int32 pairs on the compiled one: see
:func:`hit_pairs`), and the distinct key numbers, which is all a clean post's signals need."""


def hit_pairs(hits: list[tuple[int, int]] | bytes) -> list[tuple[int, int]]:
    """A scan's hits as (end byte, key number) pairs."""
    if isinstance(hits, list):
        return hits
    numbers = array("i")
    numbers.frombytes(hits)
    if sys.byteorder != "little":
        numbers.byteswap()
    return list(zip(numbers[::2], numbers[1::2], strict=True))


class Scanner(Protocol):
    def scan(self, data: bytes) -> list[tuple[int, int]]: ...

    def normalize(self, table: Table, text: str) -> str: ...

    def scan_text(self, table: Table, text: str, cache: dict, key: Any) -> RawPass | None: ...


def _compiled_core() -> tuple[ModuleType | None, str]:
    if os.environ.get(PURE_PYTHON_ENV, "").strip() not in ("", "0"):
        return None, f"pure Python ({PURE_PYTHON_ENV}={os.environ[PURE_PYTHON_ENV]})"
    try:
        import policy._core as _core  # type: ignore[import-not-found]
    except ImportError:
        return None, "pure Python (the compiled core is not built: reinstall with a C compiler)"
    return _core, "compiled"


CORE, PATH = _compiled_core()
"""The compiled core module (None on the pure-Python path), and the path as words."""


class _Pyahocorasick:
    """The pure-Python path's scanner: ``normalize``, then pyahocorasick, given the bytes spelled as
    latin-1.  The normalized text is kept in the check's cache (normalized regexes read it)."""

    __slots__ = ("automaton",)

    def __init__(self, automaton: ahocorasick.Automaton):
        self.automaton = automaton

    def scan(self, data: bytes) -> list[tuple[int, int]]:
        return list(self.automaton.iter(data.decode("latin-1")))

    def normalize(self, table: Table, text: str) -> str:
        return normalize(text, table)

    def scan_text(self, table: Table, text: str, cache: dict, key: Any) -> RawPass | None:
        norm = normalized_text(text, table, cache, key)
        if not norm:
            return None
        encoded = norm.encode("utf-8", "surrogatepass")
        found = self.scan(encoded)
        return (encoded, found, {key for _, key in found}) if found else None


class _Compiled:
    """The compiled path's scanner: the flat automaton, and each table's walk, in C."""

    __slots__ = ("automaton",)

    def __init__(self, flat: bytes):
        assert CORE is not None
        self.automaton = CORE.Automaton(flat)

    def scan(self, data: bytes) -> list[tuple[int, int]]:
        return self.automaton.scan(data)

    def normalize(self, table: Table, text: str) -> str:
        normalizer = normalizer_for(table)
        if normalizer is None:
            return normalize(text, table)
        return normalizer.normalize(strip_emoticons(text) if table.emoticons else text)

    def scan_text(self, table: Table, text: str, cache: dict, key: Any) -> RawPass | None:
        normalizer = normalizer_for(table)
        if normalizer is None:
            return _Pyahocorasick.scan_text(self, table, text, cache, key)  # type: ignore[arg-type]
        if table.emoticons:
            text = strip_emoticons(text)
        return normalizer.scan(self.automaton, text)


_DELETED = 0xFFFFFFFF
_EXPANDS = 0x80000000
_NORMALIZERS: dict[int, tuple[Table, Any]] = {}


def normalizer_for(table: Table) -> Any:
    """The compiled core's ``Normalizer`` of a table (None on the pure-Python path, or when an
    expansion is too long for its entries), made once per process and table."""
    found = _NORMALIZERS.get(id(table))
    if found is not None:
        return found[1]
    if CORE is None:
        return None
    pool = array("I")

    def entry(value: int | str | None) -> int:
        if value is None or value == "":
            return _DELETED
        if isinstance(value, int):
            return value
        if len(value) == 1:
            return ord(value)
        if len(value) > 15:
            raise OverflowError
        pool.extend(map(ord, value))
        return _EXPANDS | (len(pool) - len(value)) << 4 | len(value)

    def composed(value: int | str | None) -> int | str | None:
        """A low entry with ``table.high`` applied to its output, as normalize's second translate
        does."""
        if isinstance(value, str) and any(ord(c) in table.high for c in value):
            return value.translate(table.high)
        if isinstance(value, int) and value in table.high:
            return table.high[value]
        return value

    try:
        low = array("I", [entry(composed(v)) if not isinstance(v, int) or v != i else i
                          for i, v in enumerate(table.low)])
        high = array("I")
        for code in sorted(table.high):
            high.extend((code, entry(table.high[code])))
    except OverflowError:
        normalizer = None
    else:
        normalizer = CORE.Normalizer(low, pool, high, table.repeats)
    _NORMALIZERS[id(table)] = (table, normalizer)
    return normalizer


def scanner_for(policy: CompiledPolicy) -> Scanner | None:
    """The scanner of the policy's automaton (terms, and normalized regexes' literals) on the path
    that runs (None: the policy has no terms), made once per process and policy."""
    return _scanner(policy, "_runtime_scanner", policy.flat_automaton, lambda: policy.automaton)


def literal_scanner_for(policy: CompiledPolicy) -> Scanner | None:
    """The scanner of the original-text regex literals (read with :func:`casefold_table`), or None:
    no regex on the original text has literals."""
    prefilter = policy.prefilter
    if prefilter.original is None:
        return None
    return _scanner(policy, "_runtime_literal_scanner", prefilter.flat_original, lambda: prefilter.original)


def _scanner(policy: CompiledPolicy, name: str, flat: bytes,
             automaton: Callable[[], ahocorasick.Automaton | None]) -> Scanner | None:
    """``automaton`` is asked for only on the pure-Python path: a cached policy defers it."""
    found = policy.__dict__.get(name)
    if found is None:
        if CORE is not None and flat:
            found = _Compiled(flat)
        else:
            pure = automaton()
            if pure is None:
                return None
            found = _Pyahocorasick(pure)
        policy.__dict__[name] = found
    return found


def normalize_for(policy: CompiledPolicy, text: str, table: Table) -> str:
    """``normalize(text, table)`` on the policy's path (one call into C on the compiled one): for
    what a check normalizes besides its scans (normalized regexes, the contact finder)."""
    scanner = scanner_for(policy)
    return normalize(text, table) if scanner is None else scanner.normalize(table, text)


def normalized_for(policy: CompiledPolicy, text: str, table: Table, cache: dict, key: Any) -> str:
    """:func:`normalize_for`, computed once per check: ``cache`` is the check's normalized texts."""
    found = cache.get(key)
    if found is None:
        found = cache[key] = normalize_for(policy, text, table)
    return found


def on_pure_python(policy: CompiledPolicy) -> CompiledPolicy:
    """A copy of the policy that scans on the pure-Python path in this process, whichever path
    runs: the equivalence tests and the benchmarks check both paths side by side with it."""
    copy = type(policy).__new__(type(policy))
    copy.__dict__.update(policy.__getstate__())
    if policy.automaton is not None:
        copy.__dict__["_runtime_scanner"] = _Pyahocorasick(policy.automaton)
    if policy.prefilter.original is not None:
        copy.__dict__["_runtime_literal_scanner"] = _Pyahocorasick(policy.prefilter.original)
    return copy
