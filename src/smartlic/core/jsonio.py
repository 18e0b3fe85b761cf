"""Strict JSON in and compact JSON out, and a field reader that names what is wrong.

Signed payloads are compact JSON strings whose exact bytes are signed, so encoding must be
deterministic (insertion order, no spaces) and decoding must refuse anything ambiguous: duplicate
keys (two readers could see two different values), floats (rounding differs between languages),
NaN/Infinity, and input past a size limit. ``Fields`` turns a decoded object into typed values and
reports the dotted path of the first bad field, so an error says ``policy.serial: expected an
integer, got a string`` instead of a ``KeyError``.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterator
from typing import Any, NoReturn

import orjson

from smartlic.core.errors import FormatError, OversizedError

MAX_JSON_BYTES = 4 * 1024 * 1024
MAX_MANIFEST_BYTES = 256 * 1024 * 1024
"""A bundle manifest lists every instance of a usage or ACK file (about 230 bytes each): it gets
the bundle's limit rather than an ordinary document's."""
"""Default limit for one JSON document; callers with larger legitimate input pass their own."""

MAX_DEPTH = 32


def _json_dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


# orjson writes exactly the bytes of ``_json_dumps`` for plain values (exact str, int, bool,
# None, dict with str keys, list, tuple): compact, insertion order, UTF-8, the same escapes.
# ``tests/unit/test_jsonio_fast.py`` holds it to that. It refuses what it would otherwise
# write in its own way (dataclasses, datetimes, str subclasses), and integers past 64 bits,
# so those go to ``json``, which writes or refuses them as it always did.
_ORJSON_STRICT = (
    orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _fast_dumps(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj, option=_ORJSON_STRICT)
    except TypeError:
        return _json_dumps(obj)


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON in insertion order; refuses floats so payloads stay portable."""
    return _fast_dumps(obj) if _refuse_floats(obj, 0) else _json_dumps(obj)


def dumps_typed(obj: dict[str, Any]) -> bytes:
    """``dumps`` without the float walk, for a document that a typed ``to_json`` builds from
    values read with exact-type checks or made by the caller (a signed envelope; an ACK of
    thousands of report ids, where the walk costs more than writing). It writes the same
    bytes; a float that slipped in anyway would be written, and the strict reader on the other
    side would refuse the document, so only typed code (mypy-strict ``core``) calls this."""
    return _fast_dumps(obj)


_LEAVES = (str, int, bool, type(None))


def _refuse_floats(obj: Any, depth: int) -> bool:
    """Raise on a float or a non-string key; answer whether every node is a plain JSON type
    (the ones orjson writes as ``json`` does)."""
    if depth > MAX_DEPTH:
        raise FormatError(f"JSON nesting deeper than {MAX_DEPTH}")
    kind = type(obj)
    if kind in _LEAVES:  # most nodes: answered before any isinstance check
        return True
    if isinstance(obj, float):
        raise FormatError("floats are not allowed in smartlic payloads (use integers or strings)")
    plain = kind is dict or kind is list or kind is tuple
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not isinstance(key, str):
                raise FormatError("JSON object keys must be strings")
            plain = _refuse_floats(value, depth + 1) and type(key) is str and plain
    elif isinstance(obj, list | tuple):
        for value in obj:
            plain = _refuse_floats(value, depth + 1) and plain
    return plain


def no_float_within(obj: Any) -> bool:
    """No float anywhere in ``obj`` and no nesting past ``MAX_DEPTH``: a value that ``loads``
    would return as it is."""
    return _no_float_within(obj, 0)


def _no_float_within(obj: Any, depth: int) -> bool:
    """No float anywhere in a decoded value (orjson reads fractions, exponents and integers
    past 64 bits as floats, which the strict decoder refuses or reads otherwise)."""
    if depth > MAX_DEPTH:
        return False
    kind = type(obj)
    if kind is dict:
        obj = obj.values()
    elif kind is not list:
        return kind is not float
    for value in obj:
        kind = type(value)
        if kind is float:
            return False
        if (kind is dict or kind is list) and not _no_float_within(value, depth + 1):
            return False
    return True


def _fast_loads(raw: bytes, limit: int) -> Any:
    """The value of ``raw`` when it is canonical JSON (what ``dumps`` writes: compact, no
    floats), read by orjson; ``_MISS`` for anything else, which the strict decoder then reads
    and names.

    Canonical means ``orjson.dumps`` of the value gives ``raw`` back, which also rules out a
    repeated key, which the strict decoder refuses: orjson keeps the last value, so the
    document written back is shorter. Values nested deeper than ``MAX_DEPTH`` also go to the
    strict decoder, which reads them as it always did.
    """
    obj = loads_canonical(raw, limit=limit)
    return obj if obj is not None and _no_float_within(obj, 0) else _MISS


_MISS = object()


def loads_canonical(raw: bytes, *, limit: int = MAX_JSON_BYTES) -> Any:
    """The value of ``raw`` if it is canonical JSON, else None; floats are NOT refused.

    Only for readers that check the exact type of every value they take (the plain-shape
    readers of RUM reports): they answer None on a float as on any other surprise, and their
    caller falls back to ``loads``, which refuses and names it. This skips the float walk, a
    third of decoding a report."""
    if len(raw) > limit:
        return None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return obj if orjson.dumps(obj) == raw else None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Called for every object of every document: the dict is built in C and only a size
    # mismatch (some key repeated) pays for the Python loop that names the first repeat.
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise FormatError(f"duplicate JSON key {key!r}")
            seen.add(key)
    return out


def _no_float(text: str) -> NoReturn:
    raise FormatError(f"floats are not allowed in smartlic payloads (found {text})")


def _no_constant(text: str) -> NoReturn:
    raise FormatError(f"{text} is not allowed in JSON")


def loads(data: bytes | str, *, what: str = "JSON", limit: int = MAX_JSON_BYTES) -> Any:
    """Decode strict JSON; every failure is a ``FormatError`` that names ``what``."""
    # "surrogatepass": a lone surrogate still has a size; orjson refuses its bytes, and the
    # strict decoder below reads the text as it always did.
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    if len(raw) > limit:
        raise OversizedError(f"{what} is {len(raw)} bytes, more than the limit of {limit}")
    fast = _fast_loads(raw, limit)
    return fast if fast is not _MISS else _strict_loads(data, what)


def _strict_loads(data: bytes | str, what: str) -> Any:
    """The reference decoder: ``json`` with hooks that refuse what is ambiguous, and an error
    for each way a document can be wrong. ``loads`` answers as it does, faster for canonical
    documents (``tests/unit/test_jsonio_fast.py`` holds the two to the same answers)."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(f"{what} is not valid UTF-8 (byte {exc.start})") from None
    else:
        text = data
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_no_float,
            parse_constant=_no_constant,
        )
    except FormatError as exc:
        raise FormatError(f"{what}: {exc.reason}") from None
    except RecursionError:
        raise FormatError(f"{what}: nesting too deep") from None
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()):
            raise FormatError(f"{what} is truncated ({exc.msg} at the end)") from None
        raise FormatError(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError:
        # Python refuses to convert integers of more than 4,300 digits (CVE-2020-10735): a
        # hostile peer's number, never one smartlic writes.
        raise FormatError(f"{what} holds an integer too long to read") from None


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class Fields:
    """Typed, path-aware access to one decoded JSON object.

    Call ``done()`` after reading every field: unknown fields are refused, so a future field is
    never silently ignored by an old verifier.
    """

    def __init__(self, obj: Any, path: builtins.str) -> None:
        if not isinstance(obj, dict):
            raise FormatError(f"{path}: expected an object, got {_type_name(obj)}")
        self._obj: dict[str, Any] = obj
        self._path = path
        self._seen: set[str] = set()

    @property
    def path(self) -> builtins.str:
        return self._path

    def _sub(self, key: builtins.str) -> builtins.str:
        return f"{self._path}.{key}"

    def has(self, key: builtins.str) -> builtins.bool:
        return key in self._obj

    def _get(self, key: builtins.str) -> Any:
        self._seen.add(key)
        if key not in self._obj:
            raise FormatError(f"{self._sub(key)}: missing")
        return self._obj[key]

    def fail(self, key: builtins.str, message: builtins.str) -> NoReturn:
        raise FormatError(f"{self._sub(key)}: {message}")

    def any(self, key: builtins.str) -> Any:
        return self._get(key)

    def str(
        self, key: builtins.str, *, max_len: builtins.int = 4096, allow_empty: builtins.bool = True
    ) -> builtins.str:
        value = self._get(key)
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {_type_name(value)}")
        if len(value) > max_len:
            self.fail(key, f"longer than {max_len} characters")
        if not allow_empty and not value:
            self.fail(key, "must not be empty")
        return value

    def opt_str(self, key: builtins.str, *, max_len: builtins.int = 4096) -> builtins.str | None:
        if key not in self._obj or self._obj[key] is None:
            self._seen.add(key)
            return None
        return self.str(key, max_len=max_len)

    def int(
        self, key: builtins.str, *, min: builtins.int | None = None, max: builtins.int | None = None
    ) -> builtins.int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"expected an integer, got {_type_name(value)}")
        if min is not None and value < min:
            self.fail(key, f"must be at least {min}, got {value}")
        if max is not None and value > max:
            self.fail(key, f"must be at most {max}, got {value}")
        return value

    def opt_int(self, key: builtins.str, *, min: builtins.int | None = None) -> builtins.int | None:
        if key not in self._obj or self._obj[key] is None:
            self._seen.add(key)
            return None
        return self.int(key, min=min)

    def bool(self, key: builtins.str) -> builtins.bool:
        value = self._get(key)
        if not isinstance(value, bool):
            self.fail(key, f"expected a boolean, got {_type_name(value)}")
        return value

    def obj(self, key: builtins.str) -> Fields:
        return Fields(self._get(key), self._sub(key))

    def opt_obj(self, key: builtins.str) -> Fields | None:
        if key not in self._obj or self._obj[key] is None:
            self._seen.add(key)
            return None
        return self.obj(key)

    def list(self, key: builtins.str, *, max_items: builtins.int = 100_000) -> builtins.list[Any]:
        value = self._get(key)
        if not isinstance(value, list):
            self.fail(key, f"expected a list, got {_type_name(value)}")
        if len(value) > max_items:
            self.fail(key, f"more than {max_items} items")
        return value

    def objs(self, key: builtins.str, *, max_items: builtins.int = 100_000) -> Iterator[Fields]:
        for index, item in enumerate(self.list(key, max_items=max_items)):
            yield Fields(item, f"{self._sub(key)}[{index}]")

    def strs(
        self, key: builtins.str, *, max_items: builtins.int = 100_000, max_len: builtins.int = 4096
    ) -> builtins.list[builtins.str]:
        items = self.list(key, max_items=max_items)
        for index, item in enumerate(items):
            if not isinstance(item, str):
                self.fail(f"{key}[{index}]", f"expected a string, got {_type_name(item)}")
            if len(item) > max_len:
                self.fail(f"{key}[{index}]", f"longer than {max_len} characters")
        return items

    def choice(
        self, key: builtins.str, allowed: tuple[builtins.str, ...] | frozenset[builtins.str]
    ) -> builtins.str:
        value = self.str(key)
        if value not in allowed:
            self.fail(key, f"must be one of {', '.join(sorted(allowed))}; got {value!r}")
        return value

    def done(self) -> None:
        if self._seen.issuperset(self._obj):
            return
        unknown = sorted(set(self._obj) - self._seen)
        if unknown:
            raise FormatError(f"{self._path}: unknown field(s) {', '.join(unknown)}")
