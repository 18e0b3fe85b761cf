"""The licensing policy: per license class, how soon and how often usage must be reported.

A policy is 4 license classes × 3 day counts plus "Reporting ACK required" (reference §2.1).
Every value carries its origin because devices show it (``365 (CISCO default)``) and because a
custom policy may set only some values: the authority stores a *partial* ``CustomPolicySpec`` and
the policy in use is that spec merged field-wise over the default, which is why one policy can
mix ``CISCO default`` and ``Customer Policy`` origins (§2.1, §11).

The Cisco default is one table among possible ones: NX-OS and other families publish different
defaults (§2.2), so a vendor builds its own with ``default_policy`` instead of patching code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple

from smartlic.core import jsonio, timefmt
from smartlic.core.license_class import PolicyClass

MAX_DAYS = 3650
"""Largest day count a policy may hold: ten years, far beyond any published value."""

MAX_NAME_LEN = 128
MAX_SERIAL = 2**63 - 1
"""Serials travel as JSON integers and live in SQL BIGINT columns."""


class Origin(StrEnum):
    CISCO_DEFAULT = "CISCO default"
    CUSTOMER = "Customer Policy"


class RuleField(StrEnum):
    """The three per-class timers; the value is the JSON key, ``label`` the device wording."""

    FIRST_REPORT = "first_report"
    REPORTING_FREQUENCY = "reporting_frequency"
    REPORT_ON_CHANGE = "report_on_change"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    RuleField.FIRST_REPORT: "First report requirement (days)",
    RuleField.REPORTING_FREQUENCY: "Reporting frequency (days)",
    RuleField.REPORT_ON_CHANGE: "Report on change (days)",
}


def _check_days(value: object, what: str) -> None:
    # bool is an int subclass; a True here is always a bug upstream, never "1 day".
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what}: expected an integer number of days, got {value!r}")
    if not 0 <= value <= MAX_DAYS:
        raise ValueError(f"{what}: days must be within 0..{MAX_DAYS}, got {value}")


@dataclass(frozen=True, slots=True)
class IntValue:
    """A day count and where it came from; 0 means "not required" for that rule."""

    value: int
    origin: Origin

    def __post_init__(self) -> None:
        _check_days(self.value, "policy value")
        if not isinstance(self.origin, Origin):
            raise ValueError(f"origin must be an Origin, got {self.origin!r}")

    def display(self) -> str:
        return f"{self.value} ({self.origin})"


@dataclass(frozen=True, slots=True)
class BoolValue:
    value: bool
    origin: Origin

    def __post_init__(self) -> None:
        if not isinstance(self.value, bool):
            raise ValueError(f"expected a boolean, got {self.value!r}")
        if not isinstance(self.origin, Origin):
            raise ValueError(f"origin must be an Origin, got {self.origin!r}")

    def display(self) -> str:
        return f"{'yes' if self.value else 'no'} ({self.origin})"


@dataclass(frozen=True, slots=True)
class ClassRules:
    first_report: IntValue
    reporting_frequency: IntValue
    report_on_change: IntValue

    def get(self, which: RuleField) -> IntValue:
        value: IntValue = getattr(self, which.value)
        return value


class RuleDays(NamedTuple):
    """One row of a default-policy table, in the order devices print them."""

    first_report: int
    reporting_frequency: int
    report_on_change: int


@dataclass(frozen=True)
class Policy:
    """The policy in use on a product instance, or issued by an authority.

    ``serial`` only grows for a given custom policy lineage so an install can refuse a rollback
    to an older issue; the defaults have serial 0 and no name, so any issued policy outranks them.
    """

    name: str | None
    serial: int
    ack_required: BoolValue
    rules: Mapping[PolicyClass, ClassRules]

    def __post_init__(self) -> None:
        if self.name is None:
            if self.serial != 0:
                raise ValueError("an unnamed (default) policy must have serial 0")
        else:
            _check_name(self.name)
            if not 1 <= self.serial <= MAX_SERIAL:
                raise ValueError(f"a named policy needs a serial in 1..{MAX_SERIAL}")
        missing = [c.value for c in PolicyClass if c not in self.rules]
        known = set(PolicyClass)
        extra = [str(c) for c in self.rules if c not in known]
        if missing or extra:
            raise ValueError(
                f"policy rules need exactly the 4 license classes (missing {missing}, "
                f"unknown {extra})"
            )
        if not all(isinstance(r, ClassRules) for r in self.rules.values()):
            raise ValueError("policy rules must be ClassRules")
        # Canonical order and a read-only view, so equal policies print and serialize alike.
        frozen = MappingProxyType({c: self.rules[c] for c in PolicyClass})
        object.__setattr__(self, "rules", frozen)

    def __hash__(self) -> int:
        return hash((self.name, self.serial, self.ack_required, tuple(self.rules.items())))

    def rule(self, cls: PolicyClass) -> ClassRules:
        return self.rules[cls]

    @property
    def is_default(self) -> bool:
        """True for a built-in default; those are never "installed" and carry no name."""
        return self.name is None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "serial": self.serial,
            "ack_required": {
                "value": self.ack_required.value,
                "origin": self.ack_required.origin.value,
            },
            "rules": {
                cls.value: {
                    f.value: {"value": rules.get(f).value, "origin": rules.get(f).origin.value}
                    for f in RuleField
                }
                for cls, rules in self.rules.items()
            },
        }

    @classmethod
    def from_json(cls, fields: jsonio.Fields) -> Policy:
        raw_name = fields.any("name")
        name = None if raw_name is None else fields.str("name", max_len=MAX_NAME_LEN)
        if name is not None and not name.strip():
            fields.fail("name", "must not be blank")
        serial = fields.int("serial", min=0, max=MAX_SERIAL)
        if name is None and serial != 0:
            fields.fail("serial", "must be 0 for an unnamed (default) policy")
        if name is not None and serial == 0:
            fields.fail("serial", "must be at least 1 for a named policy")
        ack = fields.obj("ack_required")
        ack_required = BoolValue(ack.bool("value"), _origin(ack))
        ack.done()
        rules_fields = fields.obj("rules")
        rules: dict[PolicyClass, ClassRules] = {}
        for policy_class in PolicyClass:
            class_fields = rules_fields.obj(policy_class.value)
            values: dict[RuleField, IntValue] = {}
            for rule_field in RuleField:
                value_fields = class_fields.obj(rule_field.value)
                values[rule_field] = IntValue(
                    value_fields.int("value", min=0, max=MAX_DAYS), _origin(value_fields)
                )
                value_fields.done()
            class_fields.done()
            rules[policy_class] = _class_rules(values)
        rules_fields.done()
        fields.done()
        return cls(name=name, serial=serial, ack_required=ack_required, rules=rules)


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LEN:
        raise ValueError(f"policy name must be 1..{MAX_NAME_LEN} characters, got {name!r}")


def _origin(fields: jsonio.Fields) -> Origin:
    return Origin(fields.choice("origin", tuple(o.value for o in Origin)))


def _class_rules(values: Mapping[RuleField, IntValue]) -> ClassRules:
    return ClassRules(
        first_report=values[RuleField.FIRST_REPORT],
        reporting_frequency=values[RuleField.REPORTING_FREQUENCY],
        report_on_change=values[RuleField.REPORT_ON_CHANGE],
    )


CISCO_DEFAULT_TABLE: Mapping[PolicyClass, RuleDays] = MappingProxyType(
    {
        PolicyClass.UNENFORCED_PERPETUAL: RuleDays(365, 0, 90),
        PolicyClass.UNENFORCED_SUBSCRIPTION: RuleDays(90, 90, 90),
        PolicyClass.ENFORCED: RuleDays(0, 0, 0),
        PolicyClass.EXPORT: RuleDays(0, 0, 0),
    }
)
"""Reference §2.2, as IOS XE devices print it; enforced/export rely on the SLAC instead."""


def default_policy(table: Mapping[PolicyClass, RuleDays], *, ack_required: bool = True) -> Policy:
    """Build a product family's built-in default; every value is shown as ``CISCO default``.

    A family with other defaults (NX-OS N3550-T publishes 90/365/90) passes its own table, e.g.
    ``default_policy({**CISCO_DEFAULT_TABLE, PolicyClass.UNENFORCED_PERPETUAL: RuleDays(90, 365,
    90)})``.
    """
    origin = Origin.CISCO_DEFAULT
    rules: dict[PolicyClass, ClassRules] = {}
    for policy_class in PolicyClass:
        if policy_class not in table:
            raise ValueError(f"default policy table lacks {policy_class.value}")
        row = table[policy_class]
        rules[policy_class] = ClassRules(
            first_report=IntValue(row.first_report, origin),
            reporting_frequency=IntValue(row.reporting_frequency, origin),
            report_on_change=IntValue(row.report_on_change, origin),
        )
    return Policy(name=None, serial=0, ack_required=BoolValue(ack_required, origin), rules=rules)


CISCO_DEFAULT = default_policy(CISCO_DEFAULT_TABLE)


@dataclass(frozen=True, slots=True)
class ClassOverrides:
    """The values a custom policy sets for one class; ``None`` keeps the base value."""

    first_report: int | None = None
    reporting_frequency: int | None = None
    report_on_change: int | None = None

    def __post_init__(self) -> None:
        for rule_field in RuleField:
            value = self.get(rule_field)
            if value is not None:
                _check_days(value, rule_field.value)

    def get(self, which: RuleField) -> int | None:
        value: int | None = getattr(self, which.value)
        return value

    @property
    def is_empty(self) -> bool:
        return all(self.get(f) is None for f in RuleField)


@dataclass(frozen=True)
class CustomPolicySpec:
    """What an authority stores and issues: a named, serialized, *partial* policy.

    Partial on purpose: Cisco's custom policies leave some values at the default (reference §2.1
    shows ``0 (CISCO default)`` next to ``Customer Policy`` values), and a default that later
    changes must still show through the fields the customer never asked to change.
    """

    name: str
    serial: int
    ack_required: bool | None = None
    rules: Mapping[PolicyClass, ClassOverrides] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_name(self.name)
        if isinstance(self.serial, bool) or not 1 <= self.serial <= MAX_SERIAL:
            raise ValueError(f"a custom policy needs a serial in 1..{MAX_SERIAL}")
        if self.ack_required is not None and not isinstance(self.ack_required, bool):
            raise ValueError(f"ack_required must be a boolean or None, got {self.ack_required!r}")
        for key in self.rules:
            if not isinstance(key, PolicyClass):
                raise ValueError(f"unknown license class {key!r}")
        # An all-None entry means the same as no entry; drop it so equal specs compare equal.
        normalized = MappingProxyType(
            {
                c: self.rules[c]
                for c in PolicyClass
                if c in self.rules and not self.rules[c].is_empty
            }
        )
        object.__setattr__(self, "rules", normalized)

    def __hash__(self) -> int:
        return hash((self.name, self.serial, self.ack_required, tuple(self.rules.items())))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "serial": self.serial,
            "ack_required": self.ack_required,
            "rules": {
                cls.value: {f.value: overrides.get(f) for f in RuleField}
                for cls, overrides in self.rules.items()
            },
        }

    @classmethod
    def from_json(cls, fields: jsonio.Fields) -> CustomPolicySpec:
        """Classes and fields may be absent or null (not overridden); unknown ones are refused."""
        name = fields.str("name", max_len=MAX_NAME_LEN, allow_empty=False)
        if not name.strip():
            fields.fail("name", "must not be blank")
        serial = fields.int("serial", min=1, max=MAX_SERIAL)
        ack_required = None
        if fields.any("ack_required") is not None:
            ack_required = fields.bool("ack_required")
        rules_fields = fields.obj("rules")
        rules: dict[PolicyClass, ClassOverrides] = {}
        for policy_class in PolicyClass:
            class_fields = rules_fields.opt_obj(policy_class.value)
            if class_fields is None:
                continue
            values: dict[str, int | None] = {}
            for rule_field in RuleField:
                value = class_fields.opt_int(rule_field.value, min=0)
                if value is not None and value > MAX_DAYS:
                    class_fields.fail(rule_field.value, f"must be at most {MAX_DAYS}, got {value}")
                values[rule_field.value] = value
            class_fields.done()
            rules[policy_class] = ClassOverrides(**values)
        rules_fields.done()
        fields.done()
        return cls(name=name, serial=serial, ack_required=ack_required, rules=rules)


def merge(base: Policy, custom: CustomPolicySpec) -> Policy:
    """Lay a custom spec over ``base`` field by field; only values the spec sets change origin.

    Name and serial always come from the spec: the result *is* that custom policy, even if it
    happens to set no value at all.
    """
    ack_required = base.ack_required
    if custom.ack_required is not None:
        ack_required = BoolValue(custom.ack_required, Origin.CUSTOMER)
    rules: dict[PolicyClass, ClassRules] = {}
    for policy_class in PolicyClass:
        base_rules = base.rule(policy_class)
        overrides = custom.rules.get(policy_class, ClassOverrides())
        values: dict[RuleField, IntValue] = {}
        for rule_field in RuleField:
            given = overrides.get(rule_field)
            values[rule_field] = (
                base_rules.get(rule_field) if given is None else IntValue(given, Origin.CUSTOMER)
            )
        rules[policy_class] = _class_rules(values)
    return Policy(name=custom.name, serial=custom.serial, ack_required=ack_required, rules=rules)


MERGED_FROM_MULTIPLE_SOURCES = "Merged from multiple sources."


def display_lines(policy: Policy, installed_at: int | None) -> list[str]:
    """The ``Policy:`` block of ``show license status``, line for line as IOS XE prints it.

    Devices print ``Merged from multiple sources.`` while no custom policy is installed (the
    default is built in, not installed) and show the name only for a named policy (§2.1).
    """
    if installed_at is None or policy.is_default:
        in_use = MERGED_FROM_MULTIPLE_SOURCES
    else:
        in_use = f"Installed On {timefmt.device_time(installed_at)}"
    lines = ["Policy:", f"  Policy in use: {in_use}"]
    if policy.name is not None:
        lines.append(f"  Policy name: {policy.name}")
    lines.append(f"  Reporting ACK required: {policy.ack_required.display()}")
    for policy_class, rules in policy.rules.items():
        lines.append(f"  {policy_class.heading}:")
        lines.extend(f"    {f.label}: {rules.get(f).display()}" for f in RuleField)
    return lines
