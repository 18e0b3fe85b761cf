"""Every core parser, fed arbitrary or mutated input, either parses or raises a SmartLicError.

Anything else (a KeyError, a UnicodeDecodeError, a RecursionError escaping) would reach a user as
a traceback or a 500; these properties are the bounded, in-suite part of the fuzzing story.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable
from pathlib import Path
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
from smartlic.core.keyset import KeySet, Verifier
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


# --- every artifact through the verifier ------------------------------------------------------


def _golden_verifier() -> Verifier:
    (anchor,) = xmlfile.read(FILES["keyset_v1.xml"])
    verifier = Verifier.from_anchor(anchor)
    verifier.update(xmlfile.read(FILES["keyset_v2.xml"]))
    return verifier


AUTHORITY_SIGNED = ["ack.xml", "policy.xml", "trust_code.xml", "slac.xml"]


@pytest.mark.parametrize("name", AUTHORITY_SIGNED)
def test_signed_envelopes_survive_mutation_through_the_verifier(name: str) -> None:
    """Bytes are verified before they are parsed: a mutated envelope is refused, or it is
    byte-identical in what is signed and decodes to the same artifact."""
    (envelope,) = xmlfile.read(FILES[name])
    verifier = _golden_verifier()
    parse = PAYLOAD_PARSERS[name]
    original = parse(envelope.payload_json())

    @FUZZ
    @given(_mutations(envelope.to_bytes()))
    def run(data: bytes) -> None:
        try:
            mutated = Envelope.parse(data)
            payload = verifier.verify(mutated, *ArtifactType, now=vectors.T0 + 3600)
        except SmartLicError:
            return
        assert mutated.type is envelope.type
        assert parse(payload) == original

    run()


@FUZZ
@given(_mutations(FILES["keyset_v2.xml"]))
def test_key_set_rotation_survives_mutation(data: bytes) -> None:
    """A mutated next key set is refused as a whole and the trusted set does not move."""
    (anchor,) = xmlfile.read(FILES["keyset_v1.xml"])
    verifier = Verifier.from_anchor(anchor)
    with contextlib.suppress(SmartLicError):
        verifier.update(xmlfile.read(data))
    assert verifier.version in (1, 2)
    if verifier.version == 2:
        assert verifier.chain()[1].payload == xmlfile.read(FILES["keyset_v2.xml"])[0].payload


@FUZZ
@given(_mutations(FILES["trust_request.xml"]))
def test_trust_request_file_survives_mutation(data: bytes) -> None:
    """The authority's reader of ``save trust-request`` files: proof of possession or refusal."""
    from smartlic.authority.trust.service import read_trust_request

    def read(d: bytes) -> None:
        for envelope in xmlfile.read(d):
            read_trust_request(envelope)

    _only_smartlic_errors(read, data)


@FUZZ
@given(_mutations(FILES["return_code.xml"]) | st.binary(max_size=256))
def test_return_code_upload_survives_mutation(data: bytes) -> None:
    from smartlic.authority.api.rest_files import parse_return_code

    _only_smartlic_errors(parse_return_code, data)


# --- push endpoint bodies, structurally ---------------------------------------------------------


def _replace_somewhere(value: Any, path: list[int], new: Any) -> Any:
    """``value`` with the node reached by following ``path`` (indexes mod size) replaced."""
    if not path or not isinstance(value, dict | list) or not value:
        return new
    if isinstance(value, dict):
        key = sorted(value)[path[0] % len(value)]
        return {**value, key: _replace_somewhere(value[key], path[1:], new)}
    i = path[0] % len(value)
    return [*value[:i], _replace_somewhere(value[i], path[1:], new), *value[i + 1 :]]


@FUZZ
@given(st.lists(st.integers(0, 50), max_size=6), json_values)
def test_push_request_with_any_field_replaced(path: list[int], new: Any) -> None:
    """Well-formed JSON with any one field of a valid usage request swapped for any value."""
    body = jsonio.loads(_request_bytes())
    mutated = jsonio.dumps(_replace_somewhere(body, path, new))
    with contextlib.suppress(SmartLicError):
        request = Request.parse(mutated)
        for envelope in request.reports:
            RumReport.from_json(envelope.payload_json())


def test_utility_push_endpoint_answers_every_body(tmp_path: Path) -> None:
    """The utility's ``POST /cslu/v1/pi`` handler answers every body with a protocol response
    (an ERROR for what it refuses) and never raises: a raise is a 500 to the device."""
    from smartlic.utility.service import Utility

    utility = Utility(tmp_path / "utility", clock=lambda: float(vectors.T0))
    utility.configure(connected=False, authority_keys=FILES["keyset_v1.xml"])

    @FUZZ
    @given(_mutations(_request_bytes()) | st.binary(max_size=128))
    def run(data: bytes) -> None:
        response = utility.handle(data)
        assert Response.parse(response.to_bytes()) == response

    try:
        run()
    finally:
        utility.close()


# --- files a product instance or a utility imports ------------------------------------------------


@pytest.mark.parametrize("name", ["ack.xml", "policy.xml", "ack_file.tar.gz", "slac.xml"])
def test_instance_import_survives_mutation(name: str, tmp_path: Path) -> None:
    """``license smart import`` on a real agent: a mutated file installs or is refused with a
    reason, and an instance whose import was refused still opens and reports."""
    from smartlic.instance import Agent, Identity, ManualClock

    (anchor,) = xmlfile.read(FILES["keyset_v1.xml"])
    agent = Agent.open(
        tmp_path / "pi", Identity(vectors.UDI), clock=ManualClock(vectors.T0 + 3600), anchor=anchor
    )

    @settings(FUZZ, max_examples=max(10, FUZZ.max_examples // 3))
    @given(_mutations(FILES[name]))
    def run(data: bytes) -> None:
        _only_smartlic_errors(agent.import_bytes, data)

    try:
        run()
        assert agent.usage_summary().mia == 0
    finally:
        agent.close()


def test_utility_upload_from_survives_mutation(tmp_path: Path) -> None:
    from smartlic.utility.service import Utility

    utility = Utility(tmp_path / "utility", clock=lambda: float(vectors.T0))
    utility.configure(connected=False, authority_keys=FILES["keyset_v1.xml"])
    target = tmp_path / "ack.tar.gz"

    @settings(FUZZ, max_examples=max(10, FUZZ.max_examples // 3))
    @given(_mutations(FILES["ack_file.tar.gz"]))
    def run(data: bytes) -> None:
        target.write_bytes(data)
        _only_smartlic_errors(lambda _: utility.upload_from(target), data)

    try:
        run()
    finally:
        utility.close()


# --- the device shell ---------------------------------------------------------------------------

SHELL_WORDS = [
    "show", "sh", "license", "lic", "smart", "sync", "all", "local", "usage", "summary", "status",
    "rum", "id", "detail", "save", "file", "flash:u.xml", "import", "transport", "cslu", "url",
    "interval", "30", "-1", "99999999999999999999", "|", "include", "exclude", "begin", "count",
    "section", "?", "tech", "support", "udi", "authorization", "request", "add", "hseck9", "no",
    "do", "configure", "terminal", "end", "exit", "\t", "'", '"', "\\", "\x00", "é",
]  # fmt: skip


@FUZZ
@given(
    st.sampled_from(["user", "exec", "config", "config-line"]),
    st.lists(st.sampled_from(SHELL_WORDS) | st.text(max_size=6), max_size=8),
)
def test_shell_command_parser_on_any_line(mode: str, words: list[str]) -> None:
    """Every line gets the device's answer: a parse, or ``% Invalid``/``Ambiguous``/
    ``Incomplete`` (``ParseError``); help, completion and output filters never fail."""
    from smartlic.instance.shell.commands import build_trees
    from smartlic.instance.shell.tree import ParseError, apply_filters, split_filter

    tree = build_trees()[mode]
    line = " ".join(words)
    for step in (tree.help, tree.complete, tree.parse):
        with contextlib.suppress(ParseError):
            step(line)
    with contextlib.suppress(ParseError):
        head, filters = split_filter(line)
        apply_filters("Status: ENABLED\nTrust Code Installed: <none>\n", filters)
        tree.parse(head)
