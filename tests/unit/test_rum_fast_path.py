"""The unchecked reading of RUM reports (``_plain_rum``) and the memos behind it.

The authority reads thousands of reports a second; after a batch's first report, the rest are
read without ``Fields`` from UDIs, keys and HA lists already checked. That path must accept only
what the checked path accepts and build the very same report: every case here is read both
ways, and a different answer is a hole in the authority's input checks.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from smartlic.core import artifacts, envelope, jsonio
from smartlic.core.artifacts import Measurement, RumReport
from smartlic.core.envelope import SigningType
from smartlic.core.errors import FormatError
from smartlic.core.keys import SigningKey
from smartlic.core.udi import HaMember, HaRole, HaSet, Udi

KEY = SigningKey.from_raw(bytes(range(32)))
UDI = Udi("C9300-24UX", "FCW2303D16Y")
PEER = Udi("C9300-24UX", "FCW2303D16Z")


def _report(**changes: Any) -> dict[str, Any]:
    report = RumReport(
        report_id=1_700_000_000,
        asset_name="regid.2017-05.com.cisco.C9300,v1",
        udi=UDI,
        signing_type=SigningType.BUILTIN,
        public_key=KEY.public,
        entitlement_tag="regid.2017-05.com.cisco.c9300_dna_advantage,1.0",
        license_name="dna-advantage",
        software_version="17.09.02",
        hostname="switch",
        ha=HaSet((HaMember(HaRole.ACTIVE, UDI), HaMember(HaRole.STANDBY, PEER))),
        utility_enabled=True,
        previous_report_id=0,
        measurements=(Measurement(1_699_996_400, 1_700_000_000, 1_700_000_000, 900, 4, 3),),
    )
    out: dict[str, Any] = jsonio.loads(jsonio.dumps(report.to_json()))
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = out
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is _DROP:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return out


_DROP = object()


@contextlib.contextmanager
def _forgotten() -> Iterator[None]:
    """Empty every memo, so a read takes the checked path; restore them after."""
    memos: list[dict[Any, Any]] = [
        envelope._udis,
        artifacts._public_keys,
        artifacts._ha_sets,
        artifacts._senders,
    ]
    saved = [dict(memo) for memo in memos]
    for memo in memos:
        memo.clear()
    try:
        yield
    finally:
        for memo, content in zip(memos, saved, strict=True):
            memo.clear()
            memo.update(content)


def _checked(obj: dict[str, Any]) -> RumReport | str:
    with _forgotten():
        try:
            return RumReport.from_json(copy.deepcopy(obj))
        except FormatError as exc:
            return exc.reason


def _warm() -> None:
    RumReport.from_json(_report())


def test_a_report_read_again_takes_the_plain_path_and_is_equal() -> None:
    _warm()
    plain = artifacts._plain_rum(_report())
    assert plain is not None
    assert plain == _checked(_report())


def test_a_first_sight_takes_the_checked_path() -> None:
    with _forgotten():
        assert artifacts._plain_rum(_report()) is None


CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "report id 0": lambda: _report(**{"asset_identification.report_id": 0}),
    "report id true": lambda: _report(**{"asset_identification.report_id": True}),
    "report id string": lambda: _report(**{"asset_identification.report_id": "1"}),
    "unknown top field": lambda: _report(extra=1),
    "version 1.0": lambda: _report(version="1.0"),
    "no hostname": lambda: _report(**{"meta.hostname": _DROP}),
    "null hostname": lambda: _report(**{"meta.hostname": None}),
    "empty license": lambda: _report(**{"meta.license_name": ""}),
    "long asset": lambda: _report(**{"asset_identification.asset.name": "x" * 201}),
    "utility 1": lambda: _report(**{"meta.utility_enabled": 1}),
    "previous -1": lambda: _report(**{"meta.previous_report_id": -1}),
    "five tags": lambda: _report(**{"meta.customer_tags": ["a"] * 5}),
    "tag not text": lambda: _report(**{"meta.customer_tags": [1]}),
    "signing type trust": lambda: _report(**{"signature.signing_type": "trust"}),
    "signing type root": lambda: _report(**{"signature.signing_type": "root"}),
    "key id of another key": lambda: _report(**{"signature.key": "0" * 64}),
    "unseen serial": lambda: _report(
        **{"asset_identification.instance.sudi.udi_serial_number": "FCW0000NEW"}
    ),
    "serial with a comma": lambda: _report(
        **{"asset_identification.instance.sudi.udi_serial_number": "FCW,1"}
    ),
    "udi outside its HA set": lambda: _report(
        **{"asset_identification.instance.sudi.udi_serial_number": "FCW2303D16Q"}
    ),
    "HA set without Active": lambda: _report(**{"meta.ha_udi.0.role": "Member"}),
    "count 1.5": lambda: _report(**{"measurements.0.value.value": "1.5"}),
    "count integer": lambda: _report(**{"measurements.0.value.value": 3}),
    "end before start": lambda: _report(**{"measurements.0.end_time": 1}),
    "negative interval": lambda: _report(**{"measurements.0.sample_interval": -1}),
    "span meta reason": lambda: _report(**{"measurements.0.meta": {"close_reason": "reload"}}),
    "span meta unknown": lambda: _report(**{"measurements.0.meta": {"x": "y"}}),
    "metric other": lambda: _report(**{"measurements.0.metric_name": "OTHER"}),
    "no measurements": lambda: _report(measurements=[]),
    "measurements object": lambda: _report(measurements={}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_plain_path_never_answers_otherwise_than_the_checked_one(case: str) -> None:
    _warm()
    RumReport.from_json(_report(**{"asset_identification.report_id": 7}))  # memos hold UDI/key
    obj = CASES[case]()
    expected = _checked(obj)
    plain = artifacts._plain_rum(copy.deepcopy(obj))
    assert plain is None or plain == expected
    try:
        got: RumReport | str = RumReport.from_json(copy.deepcopy(obj))
    except FormatError as exc:
        got = exc.reason
    assert got == expected


def test_a_bad_udi_is_refused_even_after_a_good_one_was_remembered() -> None:
    _warm()
    obj = _report(**{"asset_identification.instance.sudi.udi_serial_number": "FCW 1"})
    with pytest.raises(FormatError, match="whitespace"):
        RumReport.from_json(obj)


def test_duplicate_keys_are_still_refused_by_the_faster_decoder() -> None:
    with pytest.raises(FormatError, match="duplicate JSON key 'b'"):
        jsonio.loads('{"a":{"b":1,"c":2,"b":3}}')
    assert jsonio.loads('{"a":{"b":1,"c":2}}') == {"a": {"b": 1, "c": 2}}


def _signed(**changes: Any) -> dict[str, Any]:
    signed = envelope.sign(
        envelope.ArtifactType.RUM, jsonio.dumps(_report()), KEY, SigningType.BUILTIN, sudi=UDI
    )
    out: dict[str, Any] = signed.to_json()
    for path, value in changes.items():
        part, _, key = path.partition(".")
        node = out[part] if key else out
        node_key = key or part
        if value is _DROP:
            del node[node_key]
        else:
            node[node_key] = value
    return out


ENVELOPES: dict[str, Callable[[], dict[str, Any]]] = {
    "as signed": _signed,
    "no sudi": lambda: _signed(**{"signature.sudi": _DROP}),
    "null sudi": lambda: _signed(**{"signature.sudi": None}),
    "unseen sudi": lambda: _signed(
        **{"signature.sudi": {"udi_pid": "C9300-48P", "udi_serial_number": "FOC9999X"}}
    ),
    "bad sudi": lambda: _signed(
        **{"signature.sudi": {"udi_pid": "C9300", "udi_serial_number": ""}}
    ),
    "version 2.0": lambda: _signed(**{"header.version": "2.0"}),
    "type unknown": lambda: _signed(**{"header.type": "rom"}),
    "upper-case key id": lambda: _signed(**{"signature.key": "A" * 64}),
    "short signature": lambda: _signed(**{"signature.value": "AAAA"}),
    "signature not base64": lambda: _signed(**{"signature.value": "!" * 88}),
    "signing type other": lambda: _signed(**{"signature.signing_type": "vendor"}),
    "payload object": lambda: _signed(payload={}),
    "extra field": lambda: _signed(extra=None),
}


@pytest.mark.parametrize("case", sorted(ENVELOPES))
def test_envelopes_read_the_same_on_both_paths(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    envelope.read_sudi(jsonio.Fields(UDI.to_sudi(), "sudi"))  # remembered, as after a first read

    def read() -> envelope.Envelope | str:
        try:
            return envelope.Envelope.from_json(copy.deepcopy(ENVELOPES[case]()))
        except FormatError as exc:
            return exc.reason

    plain = read()
    monkeypatch.setattr(envelope, "plain_envelope", lambda obj, limit: None)
    assert plain == read()
