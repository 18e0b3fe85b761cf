"""The JSON Schemas in docs/schemas/ describe what the code writes and what its decoders accept.

Every golden vector (and every envelope nested in one) validates against the schema for its type;
a request of each kind and a response of each status validate against the protocol schemas; and a
table of mutations shows the schema and the decoder refusing the same payloads (and accepting the
same optional forms). Where a decoder leaves a check to signature verification, the schema is the
stricter of the two: those cases are listed apart.
"""

from __future__ import annotations

import copy
import functools
import io
import json
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from tests import vectors

from smartlic.core import xmlfile
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
from smartlic.core.errors import FormatError, SignatureMismatchError
from smartlic.core.keyset import KeySet
from smartlic.core.policy import CISCO_DEFAULT
from smartlic.core.protocol import InstanceState, Kind, Request, Response, Status

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "schemas"
GOLDEN = ROOT / "tests" / "golden" / "vectors"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

SCHEMA_FOR: dict[ArtifactType, str] = {
    ArtifactType.KEYSET: "keyset",
    ArtifactType.POLICY: "policy",
    ArtifactType.TRUST_REQUEST: "trust_request",
    ArtifactType.TRUST_CODE: "trust_code",
    ArtifactType.RUM: "rum",
    ArtifactType.ACK: "ack",
    ArtifactType.SLAC: "slac",
    ArtifactType.RETURN_CODE: "return_code",
    ArtifactType.USAGE_FILE: "bundle_manifest",
    ArtifactType.ACK_FILE: "bundle_manifest",
}
"""The schema of each artifact type's payload (file docs/schemas/<name>.schema.json)."""

DECODERS: dict[str, Callable[[Any], object]] = {
    "envelope": Envelope.from_json,
    "keyset": KeySet.from_json,
    "policy": PolicyGrant.from_json,
    "trust_request": TrustRequest.from_json,
    "trust_code": TrustCode.from_json,
    "rum": RumReport.from_json,
    "ack": Ack.from_json,
    "slac": AuthorizationCode.from_json,
    "return_code": ReturnCode.from_json,
    "bundle_manifest": BundleManifest.from_json,
    # json.dumps, not jsonio.dumps: the negative cases must reach the decoder with their floats.
    "protocol_request": lambda obj: Request.parse(json.dumps(obj)),
    "protocol_response": lambda obj: Response.parse(json.dumps(obj)),
}

MESSAGE_ID = "6f1c0b1e9a7d4f0e8f7c2d7b5a3e1c90"


# --- loading ----------------------------------------------------------------------------------


def _schema_paths() -> list[Path]:
    return sorted(SCHEMAS.glob("*.schema.json"))


@functools.cache
def _schemas() -> dict[str, dict[str, Any]]:
    return {
        path.name.removesuffix(".schema.json"): json.loads(path.read_text(encoding="utf-8"))
        for path in _schema_paths()
    }


@functools.cache
def _registry() -> Registry[Any]:
    resources: list[tuple[str, Resource[Any]]] = [
        (schema["$id"], DRAFT202012.create_resource(schema)) for schema in _schemas().values()
    ]
    return Registry().with_resources(resources)


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(_schemas()[name], registry=_registry())


def _errors(name: str, instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in _validator(name).iter_errors(instance)
    ]


def _assert_valid(name: str, instance: Any) -> None:
    errors = _errors(name, instance)
    assert not errors, f"{name}.schema.json refuses what the code wrote:\n" + "\n".join(errors)


def _with_nested(where: str, envelope: Envelope) -> Iterator[tuple[str, Envelope]]:
    """The envelope and, for an ACK, the policy, authorization code and key set envelopes in it."""
    yield where, envelope
    if envelope.type is ArtifactType.ACK:
        payload = envelope.payload_json()
        nested = [("policy", payload["policy"])] if payload.get("policy") is not None else []
        nested += [(f"slacs[{i}]", obj) for i, obj in enumerate(payload["slacs"])]
        nested += [(f"keysets[{i}]", obj) for i, obj in enumerate(payload["keysets"])]
        for label, obj in nested:
            yield from _with_nested(f"{where} > {label}", Envelope.from_json(obj))


def _tar_members(data: bytes) -> Iterator[tuple[str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            handle = tar.extractfile(member)
            assert handle is not None, member.name
            yield member.name, handle.read()


@functools.cache
def _golden() -> tuple[tuple[str, Envelope], ...]:
    """Every envelope in the checked-in vectors, bundles and ACKs opened, named by where it is."""
    found: list[tuple[str, Envelope]] = []
    for path in sorted(GOLDEN.glob("*.xml")):
        for index, envelope in enumerate(xmlfile.read(path.read_bytes())):
            found.extend(_with_nested(f"{path.name}[{index}]", envelope))
    for path in sorted(GOLDEN.glob("*.tar.gz")):
        for name, data in _tar_members(path.read_bytes()):
            if name == "manifest.xml":
                (manifest,) = xmlfile.read(data)
                found.append((f"{path.name}/{name}", manifest))
            elif name.endswith(".tar.gz"):
                for inner_name, inner_data in _tar_members(data):
                    for index, envelope in enumerate(xmlfile.read(inner_data)):
                        where = f"{path.name}/{name}/{inner_name}[{index}]"
                        found.extend(_with_nested(where, envelope))
    return tuple(found)


def _golden_payload(kind: ArtifactType) -> dict[str, Any]:
    """A fresh copy of the first golden payload of ``kind``, for a test to change."""
    envelope = next(e for _, e in _golden() if e.type is kind)
    payload: dict[str, Any] = copy.deepcopy(envelope.payload_json())
    return payload


def _golden_envelope(kind: ArtifactType) -> dict[str, Any]:
    envelope = next(e for _, e in _golden() if e.type is kind)
    return envelope.to_json()


@functools.cache
def _world() -> dict[ArtifactType, Envelope]:
    """One envelope of each type from the deterministic world of tests/vectors.py."""
    out: dict[ArtifactType, Envelope] = {}
    for name, data in sorted(vectors.build().files.items()):
        if name.endswith(".xml"):
            for envelope in xmlfile.read(data):
                out.setdefault(envelope.type, envelope)
    return out


# --- the schemas themselves -------------------------------------------------------------------


@pytest.mark.parametrize("path", _schema_paths(), ids=lambda p: p.name)
def test_schema_is_valid_draft_2020_12(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["$schema"] == DRAFT
    assert schema["$id"] == path.name
    Draft202012Validator.check_schema(schema)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


@pytest.mark.parametrize("name", sorted(_schemas()))
def test_every_ref_resolves(name: str) -> None:
    # contentSchema is only an annotation: nothing else would notice a dangling reference there.
    schema = _schemas()[name]
    resolver = _registry().resolver(base_uri=schema["$id"])
    for ref in _refs(schema):
        resolver.lookup(ref)


def test_there_is_a_schema_for_every_artifact_type_and_message() -> None:
    wanted = {*SCHEMA_FOR.values(), "envelope", "protocol_request", "protocol_response", "common"}
    assert set(_schemas()) == wanted
    envelope_schema = _schemas()["envelope"]
    types = envelope_schema["properties"]["header"]["properties"]["type"]["enum"]
    assert types == [t.value for t in ArtifactType]


def test_envelope_schema_names_the_payload_schema_of_each_type() -> None:
    named: dict[str, str] = {}
    for rule in _schemas()["envelope"]["allOf"]:
        kind = rule["if"]["properties"]["header"]["properties"]["type"]["const"]
        ref = rule["then"]["properties"]["payload"]["contentSchema"]["$ref"]
        named[kind] = ref.removesuffix(".schema.json")
    assert named == {kind.value: name for kind, name in SCHEMA_FOR.items()}


# --- golden vectors ---------------------------------------------------------------------------


def test_golden_vectors_hold_every_artifact_type() -> None:
    assert {envelope.type for _, envelope in _golden()} == set(ArtifactType)


@pytest.mark.parametrize(("where", "envelope"), _golden(), ids=[w for w, _ in _golden()])
def test_golden_envelope_and_payload_match_their_schemas(where: str, envelope: Envelope) -> None:
    name = SCHEMA_FOR[envelope.type]
    payload = envelope.payload_json()
    _assert_valid("envelope", envelope.to_json())
    _assert_valid(name, payload)
    # docs/formats.md: writers emit keys in the order the schemas list them.
    listed = list(_schemas()[name]["properties"])
    assert list(payload) == [key for key in listed if key in payload]


# --- protocol messages ------------------------------------------------------------------------


def _requests() -> list[Request]:
    world = _world()
    common: dict[str, Any] = {
        "message_id": MESSAGE_ID,
        "sent_at": vectors.T0 + 900,
        "udi": vectors.UDI,
        "ha": vectors.HA,
        "hostname": "switch-1",
        "state": InstanceState(
            policy_issued_at=vectors.T0 + 100,
            keyset_version=2,
            trust_installed=True,
            slac_code_ids=("3f6c1d2e5b7a4c8d9e0f1a2b3c4d5e6f",),
        ),
    }
    return [
        Request(Kind.USAGE_REPORT, reports=(world[ArtifactType.RUM],), **common),
        Request(Kind.TRUST_REQUEST, artifact=world[ArtifactType.TRUST_REQUEST], **common),
        Request(
            Kind.AUTHORIZATION_REQUEST,
            mode="add",
            feature="hseck9",
            count=1,
            scope="local",
            **common,
        ),
        Request(Kind.AUTHORIZATION_RETURN, artifact=world[ArtifactType.RETURN_CODE], **common),
        Request(Kind.HELLO, MESSAGE_ID, vectors.T0, vectors.UDI, vectors.HA),
        Request(Kind.RESULT_POLL, poll_id="poll-0001", **common),
    ]


def _responses() -> list[Response]:
    world = _world()
    artifacts = tuple(
        world[kind]
        for kind in (
            ArtifactType.ACK,
            ArtifactType.POLICY,
            ArtifactType.TRUST_CODE,
            ArtifactType.SLAC,
            ArtifactType.KEYSET,
        )
    )
    return [
        Response.ok(MESSAGE_ID, artifacts),
        Response.ok(MESSAGE_ID),
        Response.poll(MESSAGE_ID, "poll-0001", 300),
        Response.from_error(MESSAGE_ID, SignatureMismatchError("policy signature does not verify")),
    ]


def test_examples_cover_every_kind_and_status() -> None:
    assert {request.kind for request in _requests()} == set(Kind)
    assert {response.status for response in _responses()} == set(Status)


@pytest.mark.parametrize("request_", _requests(), ids=lambda r: r.kind.value)
def test_request_matches_schema(request_: Request) -> None:
    assert Request.parse(request_.to_bytes()) == request_
    _assert_valid("protocol_request", request_.to_json())


@pytest.mark.parametrize("response", _responses(), ids=lambda r: r.status.value)
def test_response_matches_schema(response: Response) -> None:
    assert Response.parse(response.to_bytes()) == response
    _assert_valid("protocol_response", response.to_json())


# --- schema and decoder agree -----------------------------------------------------------------

Mutation = Callable[[Any], None]


def _at(obj: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        obj = obj[step]
    return obj


def _set(*path: str | int, to: Any) -> Mutation:
    def mutate(obj: Any) -> None:
        _at(obj, path[:-1])[path[-1]] = to

    return mutate


def _drop(*path: str | int) -> Mutation:
    def mutate(obj: Any) -> None:
        del _at(obj, path[:-1])[path[-1]]

    return mutate


def _drop_each(*keys: str) -> Mutation:
    def mutate(obj: Any) -> None:
        for key in keys:
            del obj[key]

    return mutate


def _upper(*path: str) -> Mutation:
    def mutate(obj: Any) -> None:
        parent = _at(obj, path[:-1])
        parent[path[-1]] = parent[path[-1]].upper()

    return mutate


def _nested_envelope(field: str, mutation: Mutation) -> Mutation:
    """Change an envelope carried inside an ACK payload (``policy`` or ``slacs``)."""

    def mutate(obj: Any) -> None:
        target = obj[field] if field == "policy" else obj[field][0]
        mutation(target)

    return mutate


def _base(name: str) -> Any:
    """A valid instance of schema ``name`` to mutate: a golden payload or an example message."""
    if name == "envelope":
        return _golden_envelope(ArtifactType.RUM)
    if name == "protocol_request":
        return _requests()[0].to_json()
    if name == "protocol_response":
        return _responses()[2].to_json()
    kind = next(k for k, v in SCHEMA_FOR.items() if v == name)
    return _golden_payload(kind)


def _request_of(kind: Kind) -> Any:
    return next(r for r in _requests() if r.kind is kind).to_json()


REFUSED: list[tuple[str, str, Mutation]] = [
    *[(name, "unknown field", _set("surprise", to=1)) for name in sorted(DECODERS)],
    ("envelope", "unknown header type", _set("header", "type", to="license")),
    ("envelope", "other format version", _set("header", "version", to="1.1")),
    ("envelope", "unknown signing type", _set("signature", "signing_type", to="admin")),
    ("envelope", "payload not a string", _set("payload", to={"version": "2.0"})),
    ("envelope", "no signature", _drop("signature")),
    ("envelope", "value not base64", _set("signature", "value", to="not base64!")),
    ("envelope", "unknown field in sudi", _set("signature", "sudi", "extra", to="x")),
    ("keyset", "float version", _set("version", to=1.5)),
    ("keyset", "no signing keys", _set("keys", to=[])),
    ("keyset", "version 0", _set("version", to=0)),
    ("keyset", "negative not_after", _set("keys", 0, "not_after", to=-1)),
    ("policy", "float issued_at", _set("issued_at", to=1634211251.5)),
    (
        "policy",
        "float day count",
        _set("policy", "rules", "enforced", "first_report", "value", to=0.5),
    ),
    (
        "policy",
        "day count past 3650",
        _set("policy", "rules", "export", "first_report", "value", to=3651),
    ),
    ("policy", "unknown origin", _set("policy", "ack_required", "origin", to="Vendor")),
    ("policy", "missing license class", _drop("policy", "rules", "enforced")),
    ("policy", "unknown license class", _set("policy", "rules", "other", to={})),
    ("policy", "named policy with serial 0", _set("policy", "serial", to=0)),
    ("policy", "unnamed policy with a serial", _set("policy", "name", to=None)),
    ("policy", "blank name", _set("policy", "name", to="   ")),
    ("policy", "empty smart account", _set("smart_account", to="")),
    ("trust_request", "float timestamp", _set("timestamp", to=1.5)),
    ("trust_request", "comma in PID", _set("sudi", "udi_pid", to="C9300,24UX")),
    ("trust_request", "public key not base64", _set("public_key", to="not base64!")),
    ("trust_request", "31-byte public key", _set("public_key", to="A" * 42 + "==")),
    ("trust_request", "empty nonce", _set("nonce", to="")),
    ("trust_request", "force missing", _drop("force")),
    ("trust_request", "HA set without an Active member", _set("ha_udi", 0, "role", to="Member")),
    ("trust_code", "float serial", _set("serial", to=1.5)),
    ("trust_code", "serial 0", _set("serial", to=0)),
    ("trust_code", "upper-case key id", _upper("key_id")),
    ("rum", "float report id", _set("asset_identification", "report_id", to=1.5)),
    ("rum", "other RUM version", _set("version", to="1.0")),
    ("rum", "authority label in the payload", _set("signature", "signing_type", to="authority")),
    ("rum", "count not a decimal string", _set("measurements", 0, "value", "value", to="2.0")),
    ("rum", "count as a number", _set("measurements", 0, "value", "value", to=2)),
    ("rum", "other metric", _set("measurements", 0, "metric_name", to="TELEMETRY")),
    (
        "rum",
        "Cisco's sudi lists in meta",
        _set("measurements", 0, "meta", "added_sudi_list", to=[]),
    ),
    ("rum", "two Active HA members", _set("meta", "ha_udi", 1, "role", to="Active")),
    ("rum", "two Standby HA members", _set("meta", "ha_udi", 2, "role", to="Standby")),
    ("rum", "five customer tags", _set("meta", "customer_tags", to=["a", "b", "c", "d", "e"])),
    ("rum", "empty license name", _set("meta", "license_name", to="")),
    ("ack", "float issued_at", _set("issued_at", to=1.5)),
    ("ack", "unknown ack status", _set("acked", 0, "status", to="REJECTED")),
    ("ack", "report id 0", _set("acked", 0, "report_id", to=0)),
    ("ack", "nested policy with a field added", _nested_envelope("policy", _set("x", to=1))),
    (
        "ack",
        "nested SLAC of another version",
        _nested_envelope("slacs", _set("header", "version", to="2.0")),
    ),
    ("ack", "negative purchase count", _set("purchases", 0, "count", to=-1)),
    ("slac", "float issued_at", _set("issued_at", to=1.5)),
    ("slac", "no license", _set("licenses", to=[])),
    ("slac", "count 0", _set("licenses", 0, "count", to=0)),
    ("slac", "unknown enforcement", _set("licenses", 0, "enforcement", to="unenforced")),
    ("slac", "confirmation code too long", _set("confirmation_code", to="1" * 17)),
    ("return_code", "float returned_at", _set("returned_at", to=1.5)),
    ("return_code", "empty code id", _set("code_id", to="")),
    ("bundle_manifest", "float created_at", _set("created_at", to=1.5)),
    ("bundle_manifest", "negative item count", _set("entries", 0, "items", to=-1)),
    ("bundle_manifest", "account without virtual account", _drop("account", "virtual_account")),
    ("bundle_manifest", "empty member name", _set("entries", 0, "name", to="")),
    ("protocol_request", "float sent_at", _set("sent_at", to=1.5)),
    ("protocol_request", "unknown kind", _set("kind", to="bye")),
    ("protocol_request", "other protocol", _set("protocol", to="smartlic-slp/2")),
    ("protocol_request", "state without keyset_version", _drop("state", "keyset_version")),
    ("protocol_request", "unknown field in sudi", _set("sudi", "extra", to="x")),
    ("protocol_response", "unknown status", _set("status", to="FAIL")),
    ("protocol_response", "OK_POLL without poll id", _set("poll_id", to=None)),
    ("protocol_response", "negative retry_after", _set("retry_after", to=-1)),
    ("protocol_response", "float retry_after", _set("retry_after", to=1.5)),
]


def _body_case(kind: Kind, mutation: Mutation) -> Callable[[], Any]:
    def build() -> Any:
        obj = _request_of(kind)
        mutation(obj)
        return obj

    return build


def _error_without_error() -> Any:
    obj = _responses()[3].to_json()
    obj["error"] = None
    return obj


REFUSED_MESSAGES: list[tuple[str, str, Callable[[], Any]]] = [
    ("protocol_request", "hello with a body", _body_case(Kind.HELLO, _set("body", "x", to=1))),
    (
        "protocol_request",
        "authorization count 0",
        _body_case(Kind.AUTHORIZATION_REQUEST, _set("body", "count", to=0)),
    ),
    (
        "protocol_request",
        "unknown authorization scope",
        _body_case(Kind.AUTHORIZATION_REQUEST, _set("body", "scope", to="global")),
    ),
    (
        "protocol_request",
        "result_poll without poll id",
        _body_case(Kind.RESULT_POLL, _drop("body", "poll_id")),
    ),
    (
        "protocol_request",
        "trust_request without artifact",
        _body_case(Kind.TRUST_REQUEST, _drop("body", "artifact")),
    ),
    ("protocol_response", "ERROR without error", _error_without_error),
]


def _case_id(case: tuple[str, str, object]) -> str:
    return f"{case[0]}: {case[1]}"


@pytest.mark.parametrize("case", REFUSED, ids=_case_id)
def test_schema_and_decoder_refuse(case: tuple[str, str, Mutation]) -> None:
    name, _, mutation = case
    obj = _base(name)
    mutation(obj)
    assert _errors(name, obj), f"{name}.schema.json accepts it"
    with pytest.raises(FormatError):
        DECODERS[name](obj)


@pytest.mark.parametrize("case", REFUSED_MESSAGES, ids=_case_id)
def test_schema_and_decoder_refuse_message(case: tuple[str, str, Callable[[], Any]]) -> None:
    name, _, build = case
    obj = build()
    assert _errors(name, obj), f"{name}.schema.json accepts it"
    with pytest.raises(FormatError):
        DECODERS[name](obj)


def _default_policy_grant(payload: Any) -> None:
    payload["policy"] = CISCO_DEFAULT.to_json()


ACCEPTED: list[tuple[str, str, Mutation]] = [
    ("envelope", "sudi null", _set("signature", "sudi", to=None)),
    ("envelope", "no sudi (authority-signed)", _drop("signature", "sudi")),
    ("policy", "not pinned to a UDI (field absent)", _drop("sudi")),
    ("policy", "the unnamed default policy", _default_policy_grant),
    ("trust_request", "no ID token or hostname", _drop_each("id_token", "hostname")),
    ("trust_request", "ID token null", _set("id_token", to=None)),
    ("rum", "no software version", _set("meta", "software_version", to=None)),
    ("rum", "no hostname (field absent)", _drop("meta", "hostname")),
    ("rum", "builtin label", _set("signature", "signing_type", to="builtin")),
    ("rum", "null close reason", _set("measurements", 0, "meta", "close_reason", to=None)),
    ("rum", "no previous report", _set("meta", "previous_report_id", to=0)),
    ("rum", "HA members in another order", lambda p: p["meta"]["ha_udi"].reverse()),
    ("ack", "no policy (null)", _set("policy", to=None)),
    ("ack", "no policy (field absent)", _drop("policy")),
    ("ack", "perpetual purchase", _set("purchases", 0, "end_at", to=None)),
    ("ack", "untrusted report", _set("acked", 0, "status", to="UNTRUSTED")),
    (
        "bundle_manifest",
        "no account, signer or reply",
        _drop_each("account", "signer_public_key", "in_reply_to"),
    ),
    ("bundle_manifest", "entry without UDI", _set("entries", 0, "sudi", to=None)),
    ("protocol_request", "no hostname", _drop("hostname")),
    ("protocol_request", "no policy installed", _set("state", "policy_issued_at", to=None)),
    ("protocol_response", "OK_POLL without retry_after", _drop("retry_after")),
    ("protocol_response", "no error field", _drop("error")),
]


@pytest.mark.parametrize("case", ACCEPTED, ids=_case_id)
def test_schema_and_decoder_accept(case: tuple[str, str, Mutation]) -> None:
    name, _, mutation = case
    obj = _base(name)
    mutation(obj)
    DECODERS[name](obj)
    _assert_valid(name, obj)


STRICTER_THAN_DECODER: list[tuple[str, str, Mutation]] = [
    # The decoder reads these; signature verification or installation refuses them later.
    ("envelope", "key not a key id", _set("signature", "key", to="regid.2018-05.com.cisco")),
    ("envelope", "upper-case key id", _upper("signature", "key")),
    ("envelope", "signature of 3 bytes", _set("signature", "value", to="AAAA")),
    ("ack", "digest not SHA-256 hex", _set("acked", 0, "digest", to="xyz")),
    (
        "ack",
        "a SLAC offered as the policy",
        _nested_envelope("policy", _set("header", "type", to="slac")),
    ),
    ("bundle_manifest", "member digest not SHA-256 hex", _set("entries", 0, "sha256", to="abc")),
    (
        "protocol_request",
        "an ACK offered as a usage report",
        _set("body", "reports", 0, to=_golden_envelope(ArtifactType.ACK)),
    ),
]


@pytest.mark.parametrize("case", STRICTER_THAN_DECODER, ids=_case_id)
def test_schema_refuses_what_only_verification_would(case: tuple[str, str, Mutation]) -> None:
    name, _, mutation = case
    obj = _base(name)
    mutation(obj)
    assert _errors(name, obj), f"{name}.schema.json accepts it"


def test_an_integral_float_is_a_json_schema_integer_but_not_a_smartlic_one() -> None:
    # JSON Schema counts 2.0 as an integer; the smartlic decoders refuse any fraction or exponent
    # in the JSON text, which is why docs/formats.md says "no floats" in words as well.
    payload = _golden_payload(ArtifactType.KEYSET)
    payload["version"] = 1.0
    assert not _errors("keyset", payload)
    with pytest.raises(FormatError):
        KeySet.from_json(payload)
