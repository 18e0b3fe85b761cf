"""The licenses a product knows, as the device and the authority both describe them (reference §1).

A license is named three ways: its feature name (``network-advantage``), which the CLI and
``show`` output use; its entitlement tag (a software ID tag, ``regid....``), which RUM reports and
authorization codes carry; and a display name shown in parentheses by ``show license summary``.
Enforcement type and duration decide its policy class and whether it needs an authorization code.
The catalog is data (``data/catalog.json`` for the emulated Catalyst 9300, a vendor's own file
otherwise), read strictly so that a typo in a tag cannot make reports go unmatched at the authority.
"""

from __future__ import annotations

import difflib
import re
import reprlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from smartlic.core import jsonio
from smartlic.core.errors import FormatError, NotFoundError
from smartlic.core.license_class import PolicyClass

CATALOG_FORMAT_VERSION = 1
MAX_CATALOG_BYTES = 1024 * 1024
MAX_LICENSES = 10_000
MAX_TAG_LEN = 200
MAX_NAME_LEN = 64
MAX_DISPLAY_LEN = 64
MAX_DESCRIPTION_LEN = 256
SUMMARY_ENTITLEMENT_WIDTH = 25
"""Longest display name ``show license summary`` prints whole: real devices print the 26-character
``C9300-24 Network Advantage`` as ``C9300-24 Network Advan...`` (22 + 3 = 25 characters)."""

SWID_TAG_RE = re.compile(
    r"regid\.(?P<date>\d{4}-(?:0[1-9]|1[0-2]))"
    r"\.(?P<domain>[a-z0-9-]+(?:\.[a-z0-9-]+)+)"
    r"\.(?P<product>[A-Za-z0-9][A-Za-z0-9_.+-]*)"
    r",(?P<version>v\d+|\d+(?:\.\d+)*)"
    r"_(?P<uuid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
)
"""A software ID tag: ``regid.<YYYY-MM>.<reversed domain>.<product>,<version>_<uuid>``.

Entitlement tags use ``1.0`` versions; platform software IDs also appear with ``v1``
(``regid.2017-05.com.cisco.C9300,v1_...``), so both are accepted. UUIDs must be lower case, as
devices print them, so that one tag has one spelling.
"""

_TAG_FORM = "regid.<YYYY-MM>.<reversed domain>.<name>,<version>_<uuid>"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
_LICENSE_VERSION_RE = re.compile(r"\d+(?:\.\d+)*")

_repr = reprlib.Repr()
_repr.maxstring = 80


def _shown(text: str) -> str:
    return _repr.repr(text)


class EnforcementType(StrEnum):
    UNENFORCED = "unenforced"
    ENFORCED = "enforced"
    EXPORT_CONTROLLED = "export_controlled"

    @property
    def display(self) -> str:
        """The ``Enforcement type:`` value of ``show license usage``."""
        return _ENFORCEMENT_DISPLAY[self]


_ENFORCEMENT_DISPLAY = {
    EnforcementType.UNENFORCED: "NOT ENFORCED",
    EnforcementType.ENFORCED: "ENFORCED",
    EnforcementType.EXPORT_CONTROLLED: "EXPORT RESTRICTED",
}


class Duration(StrEnum):
    PERPETUAL = "perpetual"
    SUBSCRIPTION = "subscription"

    @property
    def display(self) -> str:
        """The ``License type:`` value of ``show license usage``."""
        return self.value.capitalize()


def tag_problem(tag: str) -> str | None:
    """Why ``tag`` is not a software ID tag, or None; names the first part that is wrong."""
    if len(tag) > MAX_TAG_LEN:
        return f"is {len(tag)} characters long (at most {MAX_TAG_LEN})"
    if SWID_TAG_RE.fullmatch(tag):
        return None
    if not tag.startswith("regid."):
        reason = "does not start with 'regid.'"
    elif not re.match(r"regid\.\d{4}-(?:0[1-9]|1[0-2])\.", tag):
        reason = "has no valid YYYY-MM date after 'regid.'"
    elif "," not in tag:
        reason = "has no ',<version>_<uuid>' part"
    elif not re.search(r"_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z", tag):
        reason = "does not end with '_' and a lower-case UUID"
    else:
        reason = "is malformed"
    return f"{reason} (expected {_TAG_FORM})"


def _text_problem(value: str, limit: int) -> str | None:
    """Why a display text would corrupt a column of ``show`` output, or None."""
    if not value:
        return "is empty"
    if len(value) > limit:
        return f"is {len(value)} characters long (at most {limit})"
    if not (value.isascii() and value.isprintable()):
        return "contains a non-printable or non-ASCII character"
    if value != value.strip():
        return "has leading or trailing spaces"
    return None


@dataclass(frozen=True, slots=True)
class License:
    """One licensable feature of a product."""

    name: str
    entitlement_tag: str
    display_name: str
    description: str
    version: str
    enforcement: EnforcementType
    duration: Duration

    def __post_init__(self) -> None:
        who = f"license {_shown(self.name)}"
        if not _NAME_RE.fullmatch(self.name) or len(self.name) > MAX_NAME_LEN:
            raise FormatError(
                f"{who}: the name must be 1 to {MAX_NAME_LEN} letters, digits or '_.+-', "
                "starting with a letter or digit"
            )
        problem = tag_problem(self.entitlement_tag)
        if problem is not None:
            raise FormatError(
                f"{who}: the entitlement tag {_shown(self.entitlement_tag)} {problem}"
            )
        for label, text, limit in (
            ("display name", self.display_name, MAX_DISPLAY_LEN),
            ("description", self.description, MAX_DESCRIPTION_LEN),
        ):
            problem = _text_problem(text, limit)
            if problem is not None:
                raise FormatError(f"{who}: the {label} {problem}")
        if not _LICENSE_VERSION_RE.fullmatch(self.version) or len(self.version) > 16:
            raise FormatError(
                f"{who}: the version {_shown(self.version)} is not dotted digits like '1.0'"
            )

    @property
    def policy_class(self) -> PolicyClass:
        """Which of the policy's four reporting rules applies to this license's usage."""
        if self.enforcement is EnforcementType.EXPORT_CONTROLLED:
            return PolicyClass.EXPORT
        if self.enforcement is EnforcementType.ENFORCED:
            return PolicyClass.ENFORCED
        if self.duration is Duration.PERPETUAL:
            return PolicyClass.UNENFORCED_PERPETUAL
        return PolicyClass.UNENFORCED_SUBSCRIPTION

    @property
    def needs_authorization(self) -> bool:
        """Enforced and export-controlled licenses may not be used without an installed SLAC."""
        return self.enforcement is not EnforcementType.UNENFORCED

    def summary_entitlement(self, width: int = SUMMARY_ENTITLEMENT_WIDTH) -> str:
        """The ``Entitlement Tag`` column of ``show license summary`` (without parentheses).

        Devices cut long display names to ``width`` characters, the last three being ``...``;
        Genie parsers and people's scripts match that exact text.
        """
        if width < 4:
            raise ValueError(f"width must be at least 4, got {width}")
        if len(self.display_name) <= width:
            return self.display_name
        return self.display_name[: width - 3] + "..."

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "entitlement_tag": self.entitlement_tag,
            "display_name": self.display_name,
            "description": self.description,
            "version": self.version,
            "enforcement": self.enforcement.value,
            "duration": self.duration.value,
        }

    @classmethod
    def from_json(cls, fields: jsonio.Fields) -> License:
        """Read one license object; errors carry the JSON path of the bad field."""
        name = fields.str("name", max_len=MAX_NAME_LEN, allow_empty=False)
        tag = fields.str("entitlement_tag", max_len=MAX_TAG_LEN, allow_empty=False)
        problem = tag_problem(tag)
        if problem is not None:
            fields.fail("entitlement_tag", f"{_shown(tag)} {problem}")
        display_name = fields.str("display_name", max_len=MAX_DISPLAY_LEN)
        description = fields.str("description", max_len=MAX_DESCRIPTION_LEN)
        version = fields.str("version", max_len=16)
        enforcement = EnforcementType(
            fields.choice("enforcement", tuple(e.value for e in EnforcementType))
        )
        duration = Duration(fields.choice("duration", tuple(d.value for d in Duration)))
        fields.done()
        try:
            return cls(name, tag, display_name, description, version, enforcement, duration)
        except FormatError as exc:
            raise FormatError(f"{fields.path}: {exc.reason}") from None


@dataclass(frozen=True, slots=True)
class Platform:
    """The product the catalog belongs to: RUM reports name it as their ``asset``."""

    software_id: str
    pid_family: str

    def __post_init__(self) -> None:
        problem = tag_problem(self.software_id)
        if problem is not None:
            raise FormatError(f"platform software ID {_shown(self.software_id)} {problem}")
        problem = _text_problem(self.pid_family, 40)
        if problem is not None or " " in self.pid_family:
            raise FormatError(
                f"platform PID family {_shown(self.pid_family)} must be 1 to 40 printable "
                "ASCII characters without spaces"
            )


@dataclass(frozen=True)
class Catalog:
    """An immutable, ordered set of licenses, unique by name and by entitlement tag."""

    platform: Platform
    licenses: tuple[License, ...]
    _by_name: dict[str, License] = field(init=False, repr=False, compare=False, hash=False)
    _by_tag: dict[str, License] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        licenses = tuple(self.licenses)
        if not licenses:
            raise FormatError("licenses: empty (a catalog needs at least one license)")
        by_name: dict[str, License] = {}
        by_tag: dict[str, License] = {}
        index_of: dict[str, int] = {}
        for index, lic in enumerate(licenses):
            if lic.name in by_name:
                raise FormatError(
                    f"licenses[{index}]: duplicate license name {_shown(lic.name)} "
                    f"(also licenses[{index_of[lic.name]}])"
                )
            if lic.entitlement_tag in by_tag:
                other = by_tag[lic.entitlement_tag].name
                raise FormatError(
                    f"licenses[{index}]: license {_shown(lic.name)} has the same entitlement tag "
                    f"as licenses[{index_of[other]}] ({_shown(other)}): {lic.entitlement_tag}"
                )
            by_name[lic.name] = lic
            by_tag[lic.entitlement_tag] = lic
            index_of[lic.name] = index
        object.__setattr__(self, "licenses", licenses)
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_by_tag", by_tag)

    def __iter__(self) -> Iterator[License]:
        return iter(self.licenses)

    def __len__(self) -> int:
        return len(self.licenses)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def get(self, name: str) -> License:
        """Look up by feature name; the error suggests near misses, as a CLI user needs."""
        try:
            return self._by_name[name]
        except KeyError:
            pass
        close = difflib.get_close_matches(name, self._by_name, n=3, cutoff=0.6)
        if close:
            hint = f"did you mean {', '.join(close)}?"
        else:
            known = list(self._by_name)
            hint = "known licenses: " + ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
        raise NotFoundError(f"no license named {_shown(name)} in the catalog; {hint}")

    def by_tag(self, tag: str) -> License:
        """Look up by entitlement tag, as RUM reports and authorization codes name licenses."""
        try:
            return self._by_tag[tag]
        except KeyError:
            raise NotFoundError(
                f"no license with entitlement tag {_shown(tag)} in the catalog of "
                f"{self.platform.pid_family}"
            ) from None

    @classmethod
    def from_json(cls, data: bytes | str) -> Catalog:
        """Read a catalog document strictly: unknown fields, duplicates and bad tags are refused."""
        fields = jsonio.Fields(
            jsonio.loads(data, what="catalog", limit=MAX_CATALOG_BYTES), "catalog"
        )
        version = fields.int("version")
        if version != CATALOG_FORMAT_VERSION:
            fields.fail(
                "version",
                f"unsupported catalog version {version} (this smartlic reads version "
                f"{CATALOG_FORMAT_VERSION})",
            )
        platform_fields = fields.obj("platform")
        software_id = platform_fields.str("software_id", max_len=MAX_TAG_LEN)
        pid_family = platform_fields.str("pid_family", max_len=40)
        platform_fields.done()
        try:
            platform = Platform(software_id, pid_family)
        except FormatError as exc:
            raise FormatError(f"{platform_fields.path}: {exc.reason}") from None
        licenses = tuple(
            License.from_json(item) for item in fields.objs("licenses", max_items=MAX_LICENSES)
        )
        fields.done()
        try:
            return cls(platform, licenses)
        except FormatError as exc:
            raise FormatError(f"catalog.{exc.reason}") from None

    def to_json(self) -> bytes:
        """The compact document ``from_json`` reads back to an equal catalog."""
        document: dict[str, Any] = {
            "version": CATALOG_FORMAT_VERSION,
            "platform": {
                "software_id": self.platform.software_id,
                "pid_family": self.platform.pid_family,
            },
            "licenses": [lic.to_json() for lic in self.licenses],
        }
        return jsonio.dumps(document)


@cache
def default_catalog() -> Catalog:
    """The emulated Catalyst 9300's catalog, shipped as package data and read once per process."""
    data = (resources.files("smartlic.core") / "data" / "catalog.json").read_bytes()
    return Catalog.from_json(data)
