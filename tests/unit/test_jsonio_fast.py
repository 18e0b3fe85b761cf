"""The orjson path of ``jsonio`` answers exactly as the strict ``json`` path does.

``loads`` reads a canonical document with orjson and anything else with ``_strict_loads``;
``dumps`` writes plain values with orjson. Both shortcuts are only allowed to be faster: the same
value for every document, the same ``FormatError`` message for every refusal, the same bytes
for every value.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartlic.core import jsonio
from smartlic.core.errors import FormatError

KEYS = st.text(max_size=6)
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)  # past orjson's 64 bits too
    | st.text(max_size=12)
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)


def _answer(read: Any, data: bytes | str) -> tuple[str, Any]:
    try:
        return ("value", read(data))
    except FormatError as exc:
        return ("refused", exc.reason)


def _same(data: bytes | str) -> None:
    fast = _answer(lambda d: jsonio.loads(d, what="doc"), data)
    strict = _answer(lambda d: jsonio._strict_loads(d, "doc"), data)
    assert fast == strict


@settings(max_examples=300)
@given(VALUES)
def test_written_values_read_back_the_same_both_ways(value: Any) -> None:
    written = jsonio.dumps(value)
    assert written == json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    assert jsonio.loads(written) == value
    _same(written)


@settings(max_examples=300)
@given(VALUES, st.sampled_from([" ", "\n", "1.5", "1e3", "-0.0", "NaN", '"\\u00e9"', "/"]))
def test_altered_documents_get_the_same_answer(value: Any, extra: str) -> None:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for position in {0, len(text) // 2, len(text)}:
        _same(text[:position] + extra + text[position:])


@given(st.binary(max_size=40))
def test_arbitrary_bytes_get_the_same_answer(data: bytes) -> None:
    _same(data)


@pytest.mark.parametrize(
    "document",
    [
        b'{"a":1,"a":2}',  # a repeated key: orjson keeps the last, the round trip is shorter
        b'{"a":{"b":1,"b":1}}',
        b'{"a":1.0}',
        b'{"a":123456789012345678901234567890}',  # orjson reads it as a float
        b'{"a":"\\ud800"}',  # a lone surrogate: orjson refuses it, json reads it
        b'{"a": 1}',  # not compact
        b'{"a":"\\u00e9"}',  # an escape where canonical JSON writes the character
        b'{"a":"x"',  # truncated
        b"[" * 40 + b"]" * 40,  # deeper than MAX_DEPTH
        b"\xff",
    ],
)
def test_documents_the_fast_path_must_leave_to_the_strict_one(document: bytes) -> None:
    _same(document)


def test_a_float_is_refused_by_name() -> None:
    with pytest.raises(FormatError, match="floats are not allowed"):
        jsonio.loads(b'{"a":[1,2.5]}')


def test_canonical_reader_answers_none_for_anything_not_canonical() -> None:
    assert jsonio.loads_canonical(b'{"a":[1,"x"]}') == {"a": [1, "x"]}
    assert jsonio.loads_canonical(b'{"a":1,"a":2}') is None
    assert jsonio.loads_canonical(b'{"a": 1}') is None
    assert jsonio.loads_canonical(b'{"a":1}', limit=3) is None
    assert jsonio.loads_canonical(b"{") is None


def test_values_orjson_would_write_its_own_way_are_written_by_json() -> None:
    class Name(str):
        pass

    assert jsonio.dumps({"a": Name("x"), "b": (1, 2)}) == b'{"a":"x","b":[1,2]}'
    assert jsonio.dumps([2**70]) == b"[1180591620717411303424]"
    with pytest.raises(FormatError, match="floats"):
        jsonio.dumps({"a": 1.5})
