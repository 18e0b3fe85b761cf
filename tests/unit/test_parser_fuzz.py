"""Every core parser, fed arbitrary or mutated input, either parses or raises a SmartLicError.

Anything else (a KeyError, a UnicodeDecodeError, a RecursionError escaping) would reach a user as
a traceback or a 500; these properties are the bounded, in-suite part of the fuzzing story.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests import vectors

from smartlic.core import bundle, jsonio, xmlfile
from smartlic.core.artifacts import (
    Ack,
    AuthorizationCode,
    BundleManifest,
    PolicyGrant,
    ReturnCode,
    RumReport,
    TrustCode,
    TrustRequest,
)
from smartlic.core.envelope import ArtifactType, Envelope
from smartlic.core.errors import SmartLicError
from smartlic.core.keyset import KeySet
from smartlic.core.protocol import InstanceState, Kind, Request, Response
from smartlic.core.udi import HaSet, Udi

FILES = vectors.build().files
FUZZ = settings(
    max_examples=int(os.environ.get("SMARTLIC_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _mutations(seed: bytes) -> st.SearchStrategy[bytes]:
    """Flip, cut, splice and duplicate bytes of a valid input."""

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(seed)
        for _ in range(draw(st.integers(1, 4))):
            if not data:
                break
            op = draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
            i = draw(st.integers(0, len(data) - 1))
            if op == "flip":
                data[i] ^= draw(st.integers(1, 255))
            elif op == "cut":
                del data[i : i + draw(st.integers(1, 64))]
            elif op == "insert":
                data[i:i] = draw(st.binary(min_size=1, max_size=16))
            else:
                data[i:i] = data[i : i + draw(st.integers(1, 64))]
        return bytes(data)

    return mutate()


def _only_smartlic_errors(func: Callable[[bytes], Any], data: bytes) -> None:
    with contextlib.suppress(SmartLicError):
        func(data)


@pytest.mark.parametrize("name", sorted(n for n in FILES if n.endswith(".xml")))
def test_xml_files_survive_mutation(name: str) -> None:
    @FUZZ
    @given(_mutations(FILES[name]))
    def run(data: bytes) -> None:
        _only_smartlic_errors(xmlfile.read, data)

    run()


@FUZZ
@given(st.binary(max_size=512))
def test_xml_reader_on_random_bytes(data: bytes) -> None:
    _only_smartlic_errors(xmlfile.read, data)


PAYLOAD_PARSERS: dict[str, Callable[[Any], Any]] = {
    "policy.xml": PolicyGrant.from_json,
    "trust_request.xml": TrustRequest.from_json,
    "trust_code.xml": TrustCode.from_json,
    "rum.xml": RumReport.from_json,
    "ack.xml": Ack.from_json,
    "slac.xml": AuthorizationCode.from_json,
    "return_code.xml": ReturnCode.from_json,
    "keyset_v1.xml": KeySet.from_json,
}


@pytest.mark.parametrize("name", sorted(PAYLOAD_PARSERS))
def test_payload_decoders_survive_mutation(name: str) -> None:
    (envelope,) = xmlfile.read(FILES[name])
    parse = PAYLOAD_PARSERS[name]

    @FUZZ
    @given(_mutations(envelope.payload_bytes))
    def run(data: bytes) -> None:
        _only_smartlic_errors(lambda d: parse(jsonio.loads(d)), data)

    run()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@FUZZ
@given(json_values)
def test_decoders_on_arbitrary_json(value: Any) -> None:
    parsers: list[Callable[[Any], Any]] = [
        *PAYLOAD_PARSERS.values(),
        BundleManifest.from_json,
        Envelope.from_json,
        lambda v: Udi.parse(str(v)),
        lambda v: HaSet.from_json(v, "ha"),
    ]
    for parse in parsers:
        with contextlib.suppress(SmartLicError):
            parse(value)


def _request_bytes() -> bytes:
    (rum,) = xmlfile.read(FILES["rum.xml"])
    return Request(
        Kind.USAGE_REPORT,
        "m1",
        vectors.T0,
        vectors.UDI,
        vectors.HA,
        InstanceState(),
        reports=(rum,),
    ).to_bytes()


@FUZZ
@given(_mutations(_request_bytes()))
def test_protocol_request_survives_mutation(data: bytes) -> None:
    _only_smartlic_errors(Request.parse, data)


@FUZZ
@given(_mutations(Response.poll("m1", "p1", 60).to_bytes()))
def test_protocol_response_survives_mutation(data: bytes) -> None:
    _only_smartlic_errors(Response.parse, data)


@pytest.mark.parametrize(
    ("name", "kind"),
    [("usage_file.tar.gz", ArtifactType.USAGE_FILE), ("ack_file.tar.gz", ArtifactType.ACK_FILE)],
)
def test_bundles_survive_mutation(name: str, kind: ArtifactType) -> None:
    def accept_any(signed: Envelope, manifest: BundleManifest) -> None:
        return None

    @FUZZ
    @given(_mutations(FILES[name]))
    def run(data: bytes) -> None:
        _only_smartlic_errors(lambda d: list(bundle.read(io.BytesIO(d), kind, accept_any)), data)

    run()
