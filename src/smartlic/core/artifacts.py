"""Typed payloads of every signed artifact (DESIGN.md §2), with strict JSON mappings.

Each class maps one artifact type's payload: ``to_json()`` gives the dict that ``envelope.sign``
serialises, ``from_json()`` rebuilds it from a *verified* payload and refuses anything missing,
mistyped or unknown. Nested artifacts (a policy or authorization code carried inside an ACK) stay
envelopes, so the receiver verifies them with the same verifier as a stand-alone file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson

from smartlic.core import jsonio
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, known_udi, read_sudi
from smartlic.core.errors import FormatError
from smartlic.core.keys import VerifyKey
from smartlic.core.once import once
from smartlic.core.policy import Policy
from smartlic.core.udi import HaSet, Udi

RUM_VERSION = "2.0"
_DECIMAL = re.compile(r"[0-9]{1,12}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
MEASUREMENT_META_KEYS = ("termination_reason", "close_reason", "clock_change_delta")
METRIC_ENTITLEMENT = "ENTITLEMENT"
MAX_NAME = 200
_MEMO_LIMIT = 10_000


def payload_digest(envelope: Envelope) -> str:
    """SHA-256 (hex) of the exact payload bytes: what an ACK binds a report id to."""
    return hashlib.sha256(envelope.payload_bytes).hexdigest()


_public_keys: dict[str, tuple[VerifyKey, str]] = {}
_ha_sets: dict[tuple[tuple[str, str, str], ...], HaSet] = {}


def _public_key(text: str) -> tuple[VerifyKey, str]:
    """``VerifyKey.from_b64`` and its key id, remembered: every report of a batch repeats them."""
    known = _public_keys.get(text)
    if known is None:
        key = VerifyKey.from_b64(text)
        known = (key, key.key_id)
        if len(_public_keys) >= _MEMO_LIMIT:
            _public_keys.clear()
        _public_keys[text] = known
    return known


def _ha_key(items: object) -> tuple[tuple[str, str, str], ...] | None:
    """The memo key of a list of the plain shape every report of a batch repeats
    (``{"role", "sudi": {"udi_pid", "udi_serial_number"}}`` with string values), else None."""
    if type(items) is not list:
        return None
    plain: list[tuple[str, str, str]] = []
    for item in items:
        sudi = item.get("sudi") if type(item) is dict and len(item) == 2 else None
        if type(sudi) is not dict or len(sudi) != 2:
            return None
        role, pid, sn = item.get("role"), sudi.get("udi_pid"), sudi.get("udi_serial_number")
        if type(role) is not str or type(pid) is not str or type(sn) is not str:
            return None
        plain.append((role, pid, sn))
    return tuple(plain)


def _ha_set(items: list[Any], path: str) -> HaSet:
    """``HaSet.from_json``, remembered for plain lists (``_ha_key``). Any other list, and every
    list seen first, goes through ``HaSet.from_json`` and its checks."""
    memo_key = _ha_key(items)
    if memo_key is not None:
        known = _ha_sets.get(memo_key)
        if known is not None:
            return known
    ha = HaSet.from_json(items, path)
    if memo_key is not None:
        if len(_ha_sets) >= _MEMO_LIMIT:
            _ha_sets.clear()
        _ha_sets[memo_key] = ha
    return ha


def _sha256(fields: jsonio.Fields, key: str) -> str:
    value = fields.str(key, max_len=64)
    if not _SHA256.fullmatch(value):
        fields.fail(key, "expected a SHA-256 digest (64 lowercase hex digits)")
    return value


def _envelopes(
    fields: jsonio.Fields, key: str, kind: ArtifactType, max_items: int = 1000
) -> tuple[Envelope, ...]:
    """Nested envelopes must be of the one type their field allows, checked before anything."""
    return tuple(
        Envelope.from_json(item, path=f"{fields.path}.{key}[{index}]").expect(kind)
        for index, item in enumerate(fields.list(key, max_items=max_items))
    )


def _opt_envelope(fields: jsonio.Fields, key: str, kind: ArtifactType) -> Envelope | None:
    value = fields.any(key) if fields.has(key) else None
    if value is None:
        return None
    return Envelope.from_json(value, path=f"{fields.path}.{key}").expect(kind)


@dataclass(frozen=True)
class Account:
    smart_account: str
    virtual_account: str

    def to_json(self) -> dict[str, str]:
        return {"smart_account": self.smart_account, "virtual_account": self.virtual_account}

    @classmethod
    def from_json(cls, fields: jsonio.Fields) -> Account:
        return cls(
            smart_account=fields.str("smart_account", max_len=MAX_NAME, allow_empty=False),
            virtual_account=fields.str("virtual_account", max_len=MAX_NAME, allow_empty=False),
        )


# --- trust ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustRequest:
    """Signed by the instance key: proves possession of the key the trust code will bind."""

    udi: Udi
    ha: HaSet
    public_key: VerifyKey
    timestamp: int
    nonce: str
    id_token: str | None = None
    hostname: str | None = None
    force: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "sudi": self.udi.to_sudi(),
            "ha_udi": self.ha.to_json(),
            "public_key": self.public_key.b64(),
            "timestamp": self.timestamp,
            "nonce": self.nonce,
            "id_token": self.id_token,
            "hostname": self.hostname,
            "force": self.force,
        }

    @classmethod
    def from_json(cls, obj: Any) -> TrustRequest:
        f = jsonio.Fields(obj, "trust_request")
        out = cls(
            udi=Udi.from_sudi(f.obj("sudi")),
            ha=HaSet.from_json(f.list("ha_udi", max_items=16), "trust_request.ha_udi"),
            public_key=VerifyKey.from_b64(f.str("public_key", max_len=64)),
            timestamp=f.int("timestamp", min=0),
            nonce=f.str("nonce", max_len=64, allow_empty=False),
            id_token=f.opt_str("id_token", max_len=512),
            hostname=f.opt_str("hostname", max_len=MAX_NAME),
            force=f.bool("force"),
        )
        f.done()
        if not out.ha.contains(out.udi):
            raise FormatError("trust_request.ha_udi: does not contain the requesting UDI")
        return out


@dataclass(frozen=True)
class TrustCode:
    """Node-locked: binds one UDI to one instance public key inside one account."""

    udi: Udi
    public_key: VerifyKey
    account: Account
    issued_at: int
    serial: int
    request_nonce: str

    def to_json(self) -> dict[str, Any]:
        return {
            "sudi": self.udi.to_sudi(),
            "public_key": self.public_key.b64(),
            "key_id": self.public_key.key_id,
            **self.account.to_json(),
            "issued_at": self.issued_at,
            "serial": self.serial,
            "request_nonce": self.request_nonce,
        }

    @classmethod
    def from_json(cls, obj: Any) -> TrustCode:
        f = jsonio.Fields(obj, "trust_code")
        udi = Udi.from_sudi(f.obj("sudi"))
        public_key = VerifyKey.from_b64(f.str("public_key", max_len=64))
        if f.str("key_id", max_len=64) != public_key.key_id:
            f.fail("key_id", "does not match public_key")
        out = cls(
            udi=udi,
            public_key=public_key,
            account=Account.from_json(f),
            issued_at=f.int("issued_at", min=0),
            serial=f.int("serial", min=1),
            request_nonce=f.str("request_nonce", max_len=64, allow_empty=False),
        )
        f.done()
        return out


# --- RUM reports ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    """One measurement span of the RUM layout: a count sampled every ``sample_interval``."""

    start_time: int
    end_time: int
    log_time: int
    sample_interval: int
    num_samples: int
    count: int
    meta: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.meta) - set(MEASUREMENT_META_KEYS) if self.meta else None
        if unknown:
            raise FormatError(f"measurement meta: unknown key(s) {', '.join(sorted(unknown))}")

    def to_json(self) -> dict[str, Any]:
        return {
            "log_time": self.log_time,
            "metric_name": METRIC_ENTITLEMENT,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "sample_interval": self.sample_interval,
            "num_samples": self.num_samples,
            "meta": dict(self.meta),
            "value": {"type": "COUNT", "value": str(self.count)},
        }

    @classmethod
    def from_json(cls, f: jsonio.Fields) -> Measurement:
        f.choice("metric_name", (METRIC_ENTITLEMENT,))
        value = f.obj("value")
        value.choice("type", ("COUNT",))
        count_text = value.str("value", max_len=12)
        value.done()
        if not _DECIMAL.fullmatch(count_text):
            raise FormatError(f"{f.path}.value.value: expected a decimal count, got {count_text!r}")
        meta_fields = f.obj("meta")
        meta: dict[str, str] = {}
        for key in MEASUREMENT_META_KEYS:
            text = meta_fields.opt_str(key, max_len=64)
            if text is not None:
                meta[key] = text
        meta_fields.done()
        out = cls(
            log_time=f.int("log_time", min=0),
            start_time=f.int("start_time", min=0),
            end_time=f.int("end_time", min=0),
            sample_interval=f.int("sample_interval", min=0),
            num_samples=f.int("num_samples", min=0),
            count=int(count_text),
            meta=meta,
        )
        f.done()
        if out.end_time < out.start_time:
            raise FormatError(f"{f.path}: end_time is before start_time")
        return out


@dataclass(frozen=True)
class RumReport:
    """The RUM payload in Cisco's layout (reference §6.1 and the C9800 sample).

    ``signature`` inside the payload names the signing type and key, so they are covered by the
    signature: a trusted report cannot be relabelled ``builtin`` (or the reverse) in transit.
    ``public_key`` lets anyone check a ``builtin`` report's integrity before trust exists;
    ``previous_report_id`` carries the per-feature chain shown by ``show license rum id``.
    """

    report_id: int
    asset_name: str
    udi: Udi
    signing_type: SigningType
    public_key: VerifyKey
    entitlement_tag: str
    license_name: str
    software_version: str | None
    hostname: str | None
    ha: HaSet
    utility_enabled: bool
    previous_report_id: int
    measurements: tuple[Measurement, ...]
    customer_tags: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "entitlement_tag": self.entitlement_tag,
            "license_name": self.license_name,
            "utility_enabled": self.utility_enabled,
            "software_version": self.software_version,
            "hostname": self.hostname,
            "ha_udi": self.ha.to_json(),
            "previous_report_id": self.previous_report_id,
            "customer_tags": list(self.customer_tags),
        }
        return {
            "version": RUM_VERSION,
            "asset_identification": {
                "report_id": self.report_id,
                "asset": {"name": self.asset_name},
                "instance": {"sudi": self.udi.to_sudi()},
            },
            "signature": {
                "signing_type": self.signing_type.value,
                "key": self.public_key.key_id,
                "public_key": self.public_key.b64(),
            },
            "meta": meta,
            "measurements": [m.to_json() for m in self.measurements],
        }

    @classmethod
    def from_envelope(cls, envelope: Envelope) -> RumReport:
        """The report an envelope carries. A canonical payload of the plain shape is read with
        neither the strict decoder nor ``Fields`` (an authority reads thousands a second); any
        other goes through both, which refuse and name what is wrong."""
        obj = jsonio.loads_canonical(envelope.payload_bytes)
        plain = _plain_rum(obj) if obj is not None else None
        return plain if plain is not None else cls.from_json(envelope.payload_json())

    @classmethod
    def from_json(cls, obj: Any) -> RumReport:
        plain = _plain_rum(obj)
        if plain is not None:
            return plain
        f = jsonio.Fields(obj, "rum")
        f.choice("version", (RUM_VERSION,))
        ident = f.obj("asset_identification")
        report_id = ident.int("report_id", min=1)
        asset = ident.obj("asset")
        asset_name = asset.str("name", max_len=MAX_NAME)
        asset.done()
        instance = ident.obj("instance")
        udi = read_sudi(instance.obj("sudi"))
        instance.done()
        ident.done()
        sig = f.obj("signature")
        signing_type = SigningType(sig.choice("signing_type", ("builtin", "trust")))
        public_key, key_id = _public_key(sig.str("public_key", max_len=64))
        if sig.str("key", max_len=64) != key_id:
            sig.fail("key", "does not match public_key")
        sig.done()
        meta = f.obj("meta")
        out = cls(
            report_id=report_id,
            asset_name=asset_name,
            udi=udi,
            signing_type=signing_type,
            public_key=public_key,
            entitlement_tag=meta.str("entitlement_tag", max_len=MAX_NAME, allow_empty=False),
            license_name=meta.str("license_name", max_len=MAX_NAME, allow_empty=False),
            utility_enabled=meta.bool("utility_enabled"),
            software_version=meta.opt_str("software_version", max_len=64),
            hostname=meta.opt_str("hostname", max_len=MAX_NAME),
            ha=_ha_set(meta.list("ha_udi", max_items=16), "rum.meta.ha_udi"),
            previous_report_id=meta.int("previous_report_id", min=0),
            customer_tags=tuple(meta.strs("customer_tags", max_items=4, max_len=128)),
            measurements=tuple(
                Measurement.from_json(m) for m in f.objs("measurements", max_items=10_000)
            ),
        )
        meta.done()
        f.done()
        if not out.ha.contains(out.udi):
            raise FormatError("rum.meta.ha_udi: does not contain the reporting UDI")
        return out

    @once
    def start_time(self) -> int:
        return min((m.start_time for m in self.measurements), default=0)

    @once
    def end_time(self) -> int:
        return max((m.end_time for m in self.measurements), default=0)


_RUM_KEYS = frozenset({"version", "asset_identification", "signature", "meta", "measurements"})
_IDENT_KEYS = frozenset({"report_id", "asset", "instance"})
_SIG_KEYS = frozenset({"signing_type", "key", "public_key"})
_META_KEYS = frozenset(
    {
        "entitlement_tag",
        "license_name",
        "utility_enabled",
        "software_version",
        "hostname",
        "ha_udi",
        "previous_report_id",
        "customer_tags",
    }
)
_MEASUREMENT_KEYS = frozenset(
    {
        "log_time",
        "metric_name",
        "start_time",
        "end_time",
        "sample_interval",
        "num_samples",
        "meta",
        "value",
    }
)
_VALUE_KEYS = frozenset({"type", "value"})
_SIGNING_TYPES = {"builtin": SigningType.BUILTIN, "trust": SigningType.TRUST}


_T = TypeVar("_T")


def _assemble(cls: type[_T], values: dict[str, Any]) -> _T:
    """An instance of a frozen dataclass from every one of its fields, without ``__init__``:
    only for the plain readers, whose values have passed every check the constructor and
    ``__post_init__`` would make (a frozen ``__init__`` sets each field through
    ``object.__setattr__``: a fifth of reading a report). ``test_rum_fast_path`` compares."""
    out = object.__new__(cls)
    out.__dict__.update(values)
    return out


def _text(value: object, max_len: int, *, empty: bool = True) -> bool:
    return type(value) is str and len(value) <= max_len and (empty or value != "")


def _plain_measurement(m: object) -> Measurement | None:
    if type(m) is not dict or m.keys() != _MEASUREMENT_KEYS or m["metric_name"] != "ENTITLEMENT":
        return None
    value, meta = m["value"], m["meta"]
    if type(meta) is not dict or meta or type(value) is not dict or value.keys() != _VALUE_KEYS:
        return None
    count = value["value"]
    if value["type"] != "COUNT" or not _text(count, 12) or not _DECIMAL.fullmatch(count):
        return None
    log_time, start_time, end_time = m["log_time"], m["start_time"], m["end_time"]
    sample_interval, num_samples = m["sample_interval"], m["num_samples"]
    if (
        type(log_time) is not int
        or type(start_time) is not int
        or type(end_time) is not int
        or type(sample_interval) is not int
        or type(num_samples) is not int
        or min(log_time, start_time, sample_interval, num_samples) < 0
        or end_time < start_time
    ):
        return None
    return _assemble(
        Measurement,
        {
            "start_time": start_time,
            "end_time": end_time,
            "log_time": log_time,
            "sample_interval": sample_interval,
            "num_samples": num_samples,
            "count": int(count),
            "meta": {},
        },
    )


_senders: dict[bytes, dict[str, Any]] = {}
"""Exact JSON bytes of a sender's repeated parts → the ``RumReport`` fields they give."""


def _sender(
    asset: object, instance: object, sig: object, meta: dict[str, Any]
) -> dict[str, Any] | None:
    """The checked values of a report's parts that every report of one instance and license
    repeats (all but its id, previous id and measurements), remembered by their exact JSON
    bytes: equal bytes are an equal value of equal types (``true`` is not ``1``), so a part
    seen once need not be checked again. None for anything the plain reader does not take."""
    key = orjson.dumps(
        (
            asset,
            instance,
            sig,
            meta["entitlement_tag"],
            meta["license_name"],
            meta["utility_enabled"],
            meta["software_version"],
            meta["hostname"],
            meta["ha_udi"],
            meta["customer_tags"],
        )
    )
    known = _senders.get(key)
    if known is not None:
        return known
    if type(asset) is not dict or asset.keys() != {"name"} or not _text(asset["name"], MAX_NAME):
        return None
    if type(instance) is not dict or instance.keys() != {"sudi"}:
        return None
    if type(sig) is not dict or sig.keys() != _SIG_KEYS:
        return None
    udi = known_udi(instance["sudi"])
    signing_type = (
        _SIGNING_TYPES.get(sig["signing_type"]) if _text(sig["signing_type"], 8) else None
    )
    public_b64 = sig["public_key"]
    public = _public_keys.get(public_b64) if _text(public_b64, 64) else None
    if udi is None or signing_type is None or public is None or sig["key"] != public[1]:
        return None
    ha_key = _ha_key(meta["ha_udi"])
    ha = _ha_sets.get(ha_key) if ha_key is not None and len(ha_key) <= 16 else None
    tags, version, hostname = meta["customer_tags"], meta["software_version"], meta["hostname"]
    if (
        ha is None
        or not ha.contains(udi)
        or not _text(meta["entitlement_tag"], MAX_NAME, empty=False)
        or not _text(meta["license_name"], MAX_NAME, empty=False)
        or type(meta["utility_enabled"]) is not bool
        or not (version is None or _text(version, 64))
        or not (hostname is None or _text(hostname, MAX_NAME))
        or type(tags) is not list
        or len(tags) > 4
        or not all(_text(tag, 128) for tag in tags)
    ):
        return None
    known = {
        "asset_name": asset["name"],
        "udi": udi,
        "signing_type": signing_type,
        "public_key": public[0],
        "entitlement_tag": meta["entitlement_tag"],
        "license_name": meta["license_name"],
        "software_version": version,
        "hostname": hostname,
        "ha": ha,
        "utility_enabled": meta["utility_enabled"],
        "customer_tags": tuple(tags),
    }
    if len(_senders) >= _MEMO_LIMIT:
        _senders.clear()
    _senders[key] = known
    return known


def _plain_rum(obj: object) -> RumReport | None:
    """``RumReport.from_json`` without ``Fields``, for the one shape instances write, whose UDI,
    key and HA list a report of the same batch has already been read with every check.

    It accepts a subset of what the checked path accepts and builds the same report; anything
    else (another shape, a first sight, any doubtful value) answers None and the checked path
    reads it and names what is wrong. A batch of 5,000 reports is otherwise parsed at about a
    fifth of the cost of verifying it.
    """
    if type(obj) is not dict or obj.keys() != _RUM_KEYS or obj["version"] != RUM_VERSION:
        return None
    ident, meta = obj["asset_identification"], obj["meta"]
    if type(ident) is not dict or ident.keys() != _IDENT_KEYS:
        return None
    if type(meta) is not dict or meta.keys() != _META_KEYS:
        return None
    report_id, previous = ident["report_id"], meta["previous_report_id"]
    if type(report_id) is not int or report_id < 1 or type(previous) is not int or previous < 0:
        return None
    sender = _sender(ident["asset"], ident["instance"], obj["signature"], meta)
    if sender is None:
        return None
    spans = obj["measurements"]
    if type(spans) is not list or len(spans) > 10_000:
        return None
    measurements = []
    for span in spans:
        measurement = _plain_measurement(span)
        if measurement is None:
            return None
        measurements.append(measurement)
    return _assemble(
        RumReport,
        {
            **sender,
            "report_id": report_id,
            "previous_report_id": previous,
            "measurements": tuple(measurements),
        },
    )


# --- ACK --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AckedReport:
    report_id: int
    digest: str
    status: str = "ACCEPTED"

    def to_json(self) -> dict[str, Any]:
        return {"report_id": self.report_id, "digest": self.digest, "status": self.status}

    @classmethod
    def from_json(cls, f: jsonio.Fields) -> AckedReport:
        out = cls(
            report_id=f.int("report_id", min=1),
            digest=_sha256(f, "digest"),
            status=f.choice("status", ("ACCEPTED", "UNTRUSTED")),
        )
        f.done()
        return out


@dataclass(frozen=True)
class PurchaseLine:
    license_name: str
    entitlement_tag: str
    count: int
    end_at: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "license_name": self.license_name,
            "entitlement_tag": self.entitlement_tag,
            "count": self.count,
            "end_at": self.end_at,
        }

    @classmethod
    def from_json(cls, f: jsonio.Fields) -> PurchaseLine:
        out = cls(
            license_name=f.str("license_name", max_len=MAX_NAME, allow_empty=False),
            entitlement_tag=f.str("entitlement_tag", max_len=MAX_NAME, allow_empty=False),
            count=f.int("count", min=0),
            end_at=f.opt_int("end_at", min=0),
        )
        f.done()
        return out


@dataclass(frozen=True)
class Ack:
    """The authority's answer to usage: which reports (by id *and* digest) it acknowledges.

    Binding each id to the digest of the exact report bytes means an ACK can only acknowledge
    the report the instance actually sent. It also carries what the instance should have: the
    account names, the policy in force, pending authorization codes and the key set chain.
    """

    ack_id: str
    udi: Udi
    account: Account
    issued_at: int
    acked: tuple[AckedReport, ...]
    policy: Envelope | None = None
    slacs: tuple[Envelope, ...] = ()
    keysets: tuple[Envelope, ...] = ()
    purchases: tuple[PurchaseLine, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "ack_id": self.ack_id,
            "sudi": self.udi.to_sudi(),
            **self.account.to_json(),
            "issued_at": self.issued_at,
            "acked": [a.to_json() for a in self.acked],
            "policy": self.policy.to_json() if self.policy is not None else None,
            "slacs": [e.to_json() for e in self.slacs],
            "keysets": [e.to_json() for e in self.keysets],
            "purchases": [p.to_json() for p in self.purchases],
        }

    @classmethod
    def from_json(cls, obj: Any) -> Ack:
        f = jsonio.Fields(obj, "ack")
        out = cls(
            ack_id=f.str("ack_id", max_len=64, allow_empty=False),
            udi=Udi.from_sudi(f.obj("sudi")),
            account=Account.from_json(f),
            issued_at=f.int("issued_at", min=0),
            acked=tuple(AckedReport.from_json(a) for a in f.objs("acked", max_items=100_000)),
            policy=_opt_envelope(f, "policy", ArtifactType.POLICY),
            slacs=_envelopes(f, "slacs", ArtifactType.SLAC, max_items=64),
            keysets=_envelopes(f, "keysets", ArtifactType.KEYSET, max_items=64),
            purchases=tuple(PurchaseLine.from_json(p) for p in f.objs("purchases", max_items=1000)),
        )
        f.done()
        return out


# --- policy -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyGrant:
    """A policy as the authority issues it: for an account, optionally pinned to one UDI."""

    policy: Policy
    account: Account
    issued_at: int
    udi: Udi | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy.to_json(),
            **self.account.to_json(),
            "issued_at": self.issued_at,
            "sudi": self.udi.to_sudi() if self.udi is not None else None,
        }

    @classmethod
    def from_json(cls, obj: Any) -> PolicyGrant:
        f = jsonio.Fields(obj, "policy_grant")
        sudi = f.opt_obj("sudi")
        out = cls(
            policy=Policy.from_json(f.obj("policy")),
            account=Account.from_json(f),
            issued_at=f.int("issued_at", min=0),
            udi=Udi.from_sudi(sudi) if sudi is not None else None,
        )
        f.done()
        return out


# --- authorization codes ----------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorizedLicense:
    license_name: str
    entitlement_tag: str
    count: int
    enforcement: str

    def to_json(self) -> dict[str, Any]:
        return {
            "license_name": self.license_name,
            "entitlement_tag": self.entitlement_tag,
            "count": self.count,
            "enforcement": self.enforcement,
        }

    @classmethod
    def from_json(cls, f: jsonio.Fields) -> AuthorizedLicense:
        out = cls(
            license_name=f.str("license_name", max_len=MAX_NAME, allow_empty=False),
            entitlement_tag=f.str("entitlement_tag", max_len=MAX_NAME, allow_empty=False),
            count=f.int("count", min=1, max=1_000_000),
            enforcement=f.choice("enforcement", ("enforced", "export_controlled")),
        )
        f.done()
        return out


@dataclass(frozen=True)
class AuthorizationCode:
    """A SLAC: authorizes named enforced / export-controlled licenses on one UDI."""

    code_id: str
    udi: Udi
    account: Account
    issued_at: int
    licenses: tuple[AuthorizedLicense, ...]
    confirmation_code: str

    def to_json(self) -> dict[str, Any]:
        return {
            "code_id": self.code_id,
            "sudi": self.udi.to_sudi(),
            **self.account.to_json(),
            "issued_at": self.issued_at,
            "licenses": [lic.to_json() for lic in self.licenses],
            "confirmation_code": self.confirmation_code,
        }

    @classmethod
    def from_json(cls, obj: Any) -> AuthorizationCode:
        f = jsonio.Fields(obj, "slac")
        out = cls(
            code_id=f.str("code_id", max_len=64, allow_empty=False),
            udi=Udi.from_sudi(f.obj("sudi")),
            account=Account.from_json(f),
            issued_at=f.int("issued_at", min=0),
            licenses=tuple(
                AuthorizedLicense.from_json(x) for x in f.objs("licenses", max_items=64)
            ),
            confirmation_code=f.str("confirmation_code", max_len=16, allow_empty=False),
        )
        f.done()
        if not out.licenses:
            raise FormatError("slac.licenses: at least one license is required")
        return out


@dataclass(frozen=True)
class ReturnCode:
    """Signed by the instance key: the authorization code has been removed from this UDI."""

    code_id: str
    udi: Udi
    confirmation_code: str
    returned_at: int
    public_key: VerifyKey

    def to_json(self) -> dict[str, Any]:
        return {
            "code_id": self.code_id,
            "sudi": self.udi.to_sudi(),
            "confirmation_code": self.confirmation_code,
            "returned_at": self.returned_at,
            "public_key": self.public_key.b64(),
        }

    @classmethod
    def from_json(cls, obj: Any) -> ReturnCode:
        f = jsonio.Fields(obj, "return_code")
        out = cls(
            code_id=f.str("code_id", max_len=64, allow_empty=False),
            udi=Udi.from_sudi(f.obj("sudi")),
            confirmation_code=f.str("confirmation_code", max_len=16, allow_empty=False),
            returned_at=f.int("returned_at", min=0),
            public_key=VerifyKey.from_b64(f.str("public_key", max_len=64)),
        )
        f.done()
        return out


# --- bundles ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BundleEntry:
    """One member of a bundle. ``va`` is the virtual account (of the uploading smart account)
    the member's product instance belongs in; ``None`` means the one the upload names. An entry
    with ``items == 0`` holds no artifact: in a usage file it is a *hello entry*, asking the
    authority for what the instance lacks (the policy in force, its authorization codes)."""

    name: str
    sha256: str
    udi: Udi | None
    items: int
    va: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "sudi": self.udi.to_sudi() if self.udi is not None else None,
            "virtual_account": self.va,
            "items": self.items,
        }

    @classmethod
    def from_json(cls, f: jsonio.Fields) -> BundleEntry:
        sudi = f.opt_obj("sudi")
        out = cls(
            name=f.str("name", max_len=255, allow_empty=False),
            sha256=_sha256(f, "sha256"),
            udi=Udi.from_sudi(sudi) if sudi is not None else None,
            va=f.opt_str("virtual_account", max_len=MAX_NAME),
            items=f.int("items", min=0),
        )
        f.done()
        if out.va == "":
            raise FormatError(f"manifest entry {out.name}: virtual_account is empty")
        if out.items == 0 and out.udi is None:
            raise FormatError(f"manifest entry {out.name}: an empty member must name its sudi")
        return out


@dataclass(frozen=True)
class BundleManifest:
    """The signed manifest of a usage file or ACK file: every member, by name and digest.

    A reader checks each member against the manifest as it streams, so a truncated, reordered
    or swapped member is caught before anything is installed.
    """

    bundle_id: str
    created_at: int
    created_by: str
    entries: tuple[BundleEntry, ...]
    account: Account | None = None
    signer_public_key: VerifyKey | None = None
    in_reply_to: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle_id": self.bundle_id,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "account": self.account.to_json() if self.account is not None else None,
            "signer_public_key": (
                self.signer_public_key.b64() if self.signer_public_key is not None else None
            ),
            "in_reply_to": self.in_reply_to,
            "entries": [e.to_json() for e in self.entries],
        }

    @classmethod
    def from_json(cls, obj: Any) -> BundleManifest:
        f = jsonio.Fields(obj, "manifest")
        account = f.opt_obj("account")
        signer = f.opt_str("signer_public_key", max_len=64)
        out = cls(
            bundle_id=f.str("bundle_id", max_len=64, allow_empty=False),
            created_at=f.int("created_at", min=0),
            created_by=f.str("created_by", max_len=MAX_NAME, allow_empty=False),
            account=Account.from_json(account) if account is not None else None,
            signer_public_key=VerifyKey.from_b64(signer) if signer is not None else None,
            in_reply_to=f.opt_str("in_reply_to", max_len=64),
            entries=tuple(BundleEntry.from_json(e) for e in f.objs("entries", max_items=1_000_000)),
        )
        if account is not None:
            account.done()
        f.done()
        names = [e.name for e in out.entries]
        if len(set(names)) != len(names):
            raise FormatError("manifest.entries: duplicate member names")
        return out
