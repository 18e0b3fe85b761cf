"""Unique Device Identifiers and the HA sets they come in (reference §1, ``show license udi``).

A UDI is what every SLP artifact is bound to: a trust code is node-locked to it, a SLAC names it, a
RUM report carries it and the UDIs of every HA peer. The same pair is written three ways on real
devices (``PID:C9300-24UX,SN:FCW2303D16Y`` on the CLI, ``P:...,S:...`` in HA peer displays, and
``udi_pid``/``udi_serial_number`` in RUM JSON), so this module is the one place that reads and
writes all three and refuses anything else: a UDI that parses two ways would let an artifact made
for one device be accepted by another.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from smartlic.core.errors import FormatError, NotFoundError
from smartlic.core.jsonio import Fields

MAX_PID_LEN = 40
MAX_SN_LEN = 40
MAX_HA_MEMBERS = 16
"""Larger than any real stack (a Catalyst 9300 stacks 8), small enough to bound every payload."""

_EXPECTED = "expected PID:<pid>,SN:<serial>"
_FORMS = {"PID:": ("SN:", "S:"), "P:": ("S:", "SN:")}
"""PID prefix → (its serial-number prefix, the other form's), for the long and short forms."""
_SEPARATORS = ",:;"

_repr = reprlib.Repr()
_repr.maxstring = 60


def _shown(text: str) -> str:
    """Quote untrusted input for an error message without echoing megabytes of it."""
    return _repr.repr(text)


def _part_problem(value: str, limit: int) -> str | None:
    """Why ``value`` cannot be a PID or serial number, or None.

    ``,`` and ``:`` separate the parts of a UDI, ``;`` the members of an HA set, and whitespace is
    trimmed by every reader: allowing any of them would make a UDI that does not survive a round
    trip through its text form.
    """
    if not value:
        return "is empty"
    if len(value) > limit:
        return f"is {len(value)} characters long (at most {limit})"
    for position, char in enumerate(value, start=1):
        if char.isspace():
            return f"contains whitespace at position {position}"
        if char in _SEPARATORS:
            return f"contains {char!r} at position {position}"
        if not ("!" <= char <= "~"):
            return f"contains the non-printable or non-ASCII {char!r} at position {position}"
    return None


def _check(pid: str, sn: str, shown: str) -> None:
    for label, value, limit in (("PID", pid, MAX_PID_LEN), ("serial number", sn, MAX_SN_LEN)):
        problem = _part_problem(value, limit)
        if problem is not None:
            raise FormatError(f"UDI {shown}: the {label} {problem} ({_EXPECTED})")


@dataclass(frozen=True, slots=True)
class Udi:
    """One product instance's identity: product ID and serial number."""

    pid: str
    sn: str

    def __post_init__(self) -> None:
        _check(self.pid, self.sn, _shown(f"PID:{self.pid},SN:{self.sn}"))

    @classmethod
    def parse(cls, text: str) -> Udi:
        """Read the CLI long form or the HA-display short form, and nothing looser."""
        shown = _shown(text)
        body = text.strip()
        if not body:
            raise FormatError(f"UDI is empty ({_EXPECTED})")
        head, comma, tail = body.partition(",")
        pid_prefix = next((prefix for prefix in _FORMS if head.startswith(prefix)), None)
        if pid_prefix is None:
            if head.startswith(("SN:", "S:")):
                if tail.startswith(tuple(_FORMS)):
                    raise FormatError(
                        f"UDI {shown} has the serial number before the PID ({_EXPECTED})"
                    )
                raise FormatError(f"UDI {shown} has no PID ({_EXPECTED})")
            raise FormatError(f"UDI {shown} does not start with 'PID:' ({_EXPECTED})")
        if not comma:
            raise FormatError(f"UDI {shown} has no serial number ({_EXPECTED})")
        sn_prefix, other_sn_prefix = _FORMS[pid_prefix]
        if not tail.startswith(sn_prefix):
            if tail.startswith(other_sn_prefix):
                raise FormatError(
                    f"UDI {shown} mixes the long (PID:,SN:) and short (P:,S:) forms ({_EXPECTED})"
                )
            raise FormatError(
                f"UDI {shown} has no serial number: expected {sn_prefix!r} after the comma "
                f"({_EXPECTED})"
            )
        sn, extra_comma, extra = tail[len(sn_prefix) :].partition(",")
        if extra_comma:
            raise FormatError(
                f"UDI {shown} has unexpected text after the serial number: "
                f"{_shown(extra_comma + extra)} ({_EXPECTED})"
            )
        pid = head[len(pid_prefix) :]
        _check(pid, sn, shown)
        return cls(pid, sn)

    def __str__(self) -> str:
        return f"PID:{self.pid},SN:{self.sn}"

    def short(self) -> str:
        """The form HA peer lists and the tech-support mapping table print."""
        return f"P:{self.pid},S:{self.sn}"

    def to_sudi(self) -> dict[str, str]:
        """The ``sudi`` object of RUM reports (``instance.sudi``, ``meta.ha_udi[].sudi``)."""
        return {"udi_pid": self.pid, "udi_serial_number": self.sn}

    @classmethod
    def from_sudi(cls, fields: Fields) -> Udi:
        """Read a ``sudi`` object; errors carry the JSON path of the bad field."""
        pid = fields.str("udi_pid")
        sn = fields.str("udi_serial_number")
        fields.done()
        for key, label, value, limit in (
            ("udi_pid", "PID", pid, MAX_PID_LEN),
            ("udi_serial_number", "serial number", sn, MAX_SN_LEN),
        ):
            problem = _part_problem(value, limit)
            if problem is not None:
                fields.fail(key, f"the {label} {_shown(value)} {problem}")
        return cls(pid, sn)


class HaRole(StrEnum):
    """Roles as ``show license udi`` and RUM ``meta.ha_udi`` spell them."""

    ACTIVE = "Active"
    STANDBY = "Standby"
    MEMBER = "Member"


_ROLE_ORDER = {HaRole.ACTIVE: 0, HaRole.STANDBY: 1, HaRole.MEMBER: 2}
_ROLE_VALUES = tuple(role.value for role in HaRole)


def _same_chassis(first: HaRole, second: HaRole) -> bool:
    """Modular chassis (C9400, C9600) with two supervisors list the chassis UDI as both Active
    and Standby in ``show license udi``; any other repeat is a configuration mistake."""
    return {first, second} == {HaRole.ACTIVE, HaRole.STANDBY}


@dataclass(frozen=True, slots=True)
class HaMember:
    role: HaRole
    udi: Udi

    def __str__(self) -> str:
        return f"{self.role}:{self.udi}"


@dataclass(frozen=True)
class HaSet:
    """The UDIs of one HA pair or stack, with their roles.

    Members are kept in the order devices print them (Active, Standby, then Members in the order
    given), so two sets holding the same members compare equal and serialize to the same bytes.
    """

    members: tuple[HaMember, ...]
    _by_udi: dict[Udi, HaRole] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        members = tuple(sorted(self.members, key=lambda member: _ROLE_ORDER[member.role]))
        if not members:
            raise FormatError("HA set has no members (it needs exactly one Active member)")
        if len(members) > MAX_HA_MEMBERS:
            raise FormatError(
                f"HA set has {len(members)} members; at most {MAX_HA_MEMBERS} are allowed"
            )
        for role, allowed in (
            (HaRole.ACTIVE, "exactly one is"),
            (HaRole.STANDBY, "at most one is"),
        ):
            holders = [str(member.udi) for member in members if member.role is role]
            if len(holders) > 1:
                raise FormatError(
                    f"HA set has {len(holders)} {role} members ({', '.join(holders)}); "
                    f"{allowed} allowed"
                )
        if members[0].role is not HaRole.ACTIVE:
            raise FormatError("HA set has no Active member (exactly one is required)")
        by_udi: dict[Udi, HaRole] = {}
        for member in members:
            if member.udi in by_udi and not _same_chassis(by_udi[member.udi], member.role):
                raise FormatError(
                    f"UDI {member.udi} appears more than once in the HA set "
                    "(only the Active and Standby supervisors of one chassis share a UDI)"
                )
            by_udi.setdefault(member.udi, member.role)
        object.__setattr__(self, "members", members)
        object.__setattr__(self, "_by_udi", by_udi)

    @classmethod
    def standalone(cls, udi: Udi) -> HaSet:
        """A device without HA still reports itself as the Active member."""
        return cls((HaMember(HaRole.ACTIVE, udi),))

    @property
    def active(self) -> Udi:
        return self.members[0].udi

    @property
    def standby(self) -> Udi | None:
        return next((m.udi for m in self.members if m.role is HaRole.STANDBY), None)

    @property
    def udis(self) -> tuple[Udi, ...]:
        """Each UDI once: a dual-supervisor chassis is one product instance, not two."""
        return tuple(self._by_udi)

    def contains(self, udi: Udi) -> bool:
        return udi in self._by_udi

    def role_of(self, udi: Udi) -> HaRole:
        """Raises rather than returns None: asking about a non-member is a bug or an attack."""
        try:
            return self._by_udi[udi]
        except KeyError:
            raise NotFoundError(
                f"UDI {udi} is not a member of the HA set ({'; '.join(map(str, self.members))})"
            ) from None

    def to_json(self) -> list[dict[str, Any]]:
        """The RUM ``meta.ha_udi`` list."""
        return [
            {"role": member.role.value, "sudi": member.udi.to_sudi()} for member in self.members
        ]

    @classmethod
    def from_json(cls, items: object, path: str = "ha_udi") -> HaSet:
        """Read a RUM ``meta.ha_udi`` list; errors carry the JSON path of the bad item."""
        if not isinstance(items, list):
            raise FormatError(f"{path}: expected a list of HA members")
        if len(items) > MAX_HA_MEMBERS:
            raise FormatError(
                f"{path}: {len(items)} HA members; at most {MAX_HA_MEMBERS} are allowed"
            )
        members: list[HaMember] = []
        for index, item in enumerate(items):
            fields = Fields(item, f"{path}[{index}]")
            role = HaRole(fields.choice("role", _ROLE_VALUES))
            udi = Udi.from_sudi(fields.obj("sudi"))
            fields.done()
            members.append(HaMember(role, udi))
        try:
            return cls(tuple(members))
        except FormatError as exc:
            raise FormatError(f"{path}: {exc.reason}") from None

    @classmethod
    def parse(cls, text: str) -> HaSet:
        """Read the config/CLI form ``Active:PID:A,SN:1;Standby:PID:B,SN:2``."""
        entries = text.split(";")
        if len(entries) > MAX_HA_MEMBERS:
            raise FormatError(
                f"HA set {_shown(text)} has {len(entries)} entries; "
                f"at most {MAX_HA_MEMBERS} are allowed"
            )
        members: list[HaMember] = []
        for number, entry in enumerate(entries, start=1):
            role_text, colon, udi_text = entry.strip().partition(":")
            if not colon or role_text not in _ROLE_VALUES:
                raise FormatError(
                    f"HA set entry {number} ({_shown(entry.strip())}) must look like "
                    f"<role>:PID:<pid>,SN:<serial> with role {', '.join(_ROLE_VALUES)}"
                )
            try:
                udi = Udi.parse(udi_text)
            except FormatError as exc:
                raise FormatError(f"HA set entry {number}: {exc.reason}") from None
            members.append(HaMember(HaRole(role_text), udi))
        return cls(tuple(members))

    def __str__(self) -> str:
        """The form ``parse`` reads."""
        return ";".join(map(str, self.members))
