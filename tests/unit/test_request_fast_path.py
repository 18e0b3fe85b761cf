"""The faster reading of usage reports in ``Request.parse`` (ADR 0014).

A canonical ``usage_report`` has its envelopes read by the plain reader, and only the rest of the
document is walked for floats. That path must give the very request the checked path gives, and
send anything doubtful the checked way, which names what is wrong: each case here is parsed as
bytes (the fast path) and as text (always the checked path), and the answers must agree.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from tests.utility.forge import rum, usage

from smartlic.core import envelope, jsonio, protocol
from smartlic.core.errors import SmartLicError
from smartlic.core.keys import SigningKey
from smartlic.core.protocol import Request
from smartlic.core.udi import Udi

KEY = SigningKey.from_raw(bytes(range(1, 33)))
UDI = Udi("C9300-24UX", "FCW2303D17A")


def _request(reports: int = 3) -> dict[str, Any]:
    out: dict[str, Any] = usage(
        UDI, [rum(KEY, UDI, 1_700_000_000 + n, sudi=True) for n in range(reports)]
    ).to_json()
    return out


def _set(path: str, value: Any) -> Callable[[], dict[str, Any]]:
    def make() -> dict[str, Any]:
        doc = _request()
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
        return doc

    return make


def _answer(data: bytes | str) -> Request | str:
    try:
        return Request.parse(data)
    except SmartLicError as exc:
        return f"{exc.code}: {exc.reason}"


CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "plain": _request,
    "no reports": lambda: _request(0),
    "float sent_at": _set("sent_at", 1.5),
    "float in state": _set("state.keyset_version", 1.0),
    "float payload": _set("body.reports.1.payload", 2.5),
    "float signature key": _set("body.reports.2.signature.key", 1.0),
    "float header version": _set("body.reports.0.header.version", 1.0),
    "report not an object": _set("body.reports.0", 1),
    "unknown signing type": _set("body.reports.0.signature.signing_type", "other"),
    "signature too short": _set("body.reports.0.signature.value", "AAAA"),
    "other kind with reports": _set("kind", "hello"),
    "body with another field": _set("body.extra", 1),
    "bad sender serial": _set("sudi.udi_serial_number", "FCW 1"),
    "sender not an object": _set("sudi", 1.5),
    "ha list without the sender": _set("ha_udi", []),
    "protocol of another version": _set("protocol", "smartlic-slp/2"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_fast_path_answers_as_the_checked_one(case: str) -> None:
    doc = CASES[case]()
    data = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    assert _answer(data) == _answer(data.decode())


def test_a_plain_batch_takes_the_fast_path_and_keeps_its_reports() -> None:
    data = jsonio.dumps(_request(5))
    fast = protocol._plain_usage_report(data, protocol.MAX_MESSAGE_BYTES)
    assert fast is not None
    assert fast[1] == Request.parse(data.decode()).reports
    assert Request.parse(data).reports == fast[1]


def test_a_first_sight_of_the_sender_still_takes_the_fast_path() -> None:
    data = jsonio.dumps(_request(2))
    envelope._udis.clear()
    assert protocol._plain_usage_report(data, protocol.MAX_MESSAGE_BYTES) is not None


def test_a_float_anywhere_leaves_the_fast_path() -> None:
    for path in ("sent_at", "state.keyset_version", "body.reports.0.payload"):
        data = json.dumps(_set(path, 0.5)(), separators=(",", ":")).encode()
        assert protocol._plain_usage_report(data, protocol.MAX_MESSAGE_BYTES) is None
        with pytest.raises(SmartLicError, match="floats are not allowed"):
            Request.parse(data)


def test_truncated_and_oversized_requests_are_refused_as_before() -> None:
    data = jsonio.dumps(_request(2))
    assert _answer(data[:-7]) == _answer(data[:-7].decode())
    assert str(_answer(data[:-7])).startswith("MALFORMED: request ")
    assert protocol._plain_usage_report(data, len(data) - 1) is None
    with pytest.raises(SmartLicError, match="more than the limit"):
        Request.parse(data, limit=len(data) - 1)


def test_a_tampered_payload_is_read_but_left_to_the_signature_check() -> None:
    doc = _request(1)
    doc["body"]["reports"][0]["payload"] = doc["body"]["reports"][0]["payload"].replace(
        '"C9300"', '"C9301"'
    )
    assert '"C9301"' in doc["body"]["reports"][0]["payload"]
    data = jsonio.dumps(doc)
    fast = protocol._plain_usage_report(data, protocol.MAX_MESSAGE_BYTES)
    assert fast is not None
    (report,) = fast[1]
    with pytest.raises(SmartLicError, match="does not verify"):
        report.verify_with(KEY.public)
