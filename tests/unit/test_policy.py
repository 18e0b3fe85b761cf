"""Policy model: Cisco defaults, field-wise merge of custom specs, strict JSON, device display."""

from __future__ import annotations

import calendar
import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartlic.core import jsonio
from smartlic.core.errors import FormatError
from smartlic.core.license_class import PolicyClass
from smartlic.core.policy import (
    CISCO_DEFAULT,
    CISCO_DEFAULT_TABLE,
    MAX_DAYS,
    BoolValue,
    ClassOverrides,
    ClassRules,
    CustomPolicySpec,
    IntValue,
    Origin,
    Policy,
    RuleDays,
    RuleField,
    default_policy,
    display_lines,
    merge,
)

P, S, E, X = (
    PolicyClass.UNENFORCED_PERPETUAL,
    PolicyClass.UNENFORCED_SUBSCRIPTION,
    PolicyClass.ENFORCED,
    PolicyClass.EXPORT,
)


def utc(*parts: int) -> int:
    return calendar.timegm((*parts, 0, 0, 0))


# Observed on devices (reference §2.1 [S1], genie ShowLicenseTechSupport golden_output_2).
S1_SPEC = CustomPolicySpec(
    name="Custom Policy",
    serial=3,
    ack_required=True,
    rules={
        P: ClassOverrides(365, 0, 90),
        S: ClassOverrides(90, 90, 90),
        E: ClassOverrides(365, 90, 90),
        X: ClassOverrides(365, 90, 90),
    },
)
SLE_SPEC = CustomPolicySpec(
    name="SLE Policy",
    serial=7,
    ack_required=True,
    rules={
        P: ClassOverrides(30, 60, 60),
        S: ClassOverrides(120, 111, 111),
        E: ClassOverrides(None, 90, 60),
        X: ClassOverrides(reporting_frequency=30, report_on_change=30),
    },
)


# --- the Cisco default ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "expected"),
    [(P, (365, 0, 90)), (S, (90, 90, 90)), (E, (0, 0, 0)), (X, (0, 0, 0))],
)
def test_cisco_default_values(cls: PolicyClass, expected: tuple[int, int, int]) -> None:
    rules = CISCO_DEFAULT.rule(cls)
    assert tuple(rules.get(f).value for f in RuleField) == expected
    assert {rules.get(f).origin for f in RuleField} == {Origin.CISCO_DEFAULT}


def test_cisco_default_identity() -> None:
    assert CISCO_DEFAULT.is_default
    assert CISCO_DEFAULT.name is None
    assert CISCO_DEFAULT.serial == 0
    assert CISCO_DEFAULT.ack_required == BoolValue(True, Origin.CISCO_DEFAULT)
    assert list(CISCO_DEFAULT.rules) == list(PolicyClass)


def test_origin_strings_are_the_device_wording() -> None:
    assert [o.value for o in Origin] == ["CISCO default", "Customer Policy"]


def test_a_product_family_defines_its_own_default() -> None:
    nxos = default_policy({**CISCO_DEFAULT_TABLE, P: RuleDays(90, 365, 90)}, ack_required=False)
    assert nxos.is_default
    assert nxos.rule(P).first_report == IntValue(90, Origin.CISCO_DEFAULT)
    assert nxos.rule(P).reporting_frequency.value == 365
    assert nxos.rule(S) == CISCO_DEFAULT.rule(S)
    assert nxos.ack_required == BoolValue(False, Origin.CISCO_DEFAULT)
    assert nxos != CISCO_DEFAULT


def test_default_table_must_cover_every_class() -> None:
    with pytest.raises(ValueError, match="export"):
        default_policy({P: RuleDays(1, 2, 3), S: RuleDays(1, 2, 3), E: RuleDays(1, 2, 3)})


# --- construction rules ---------------------------------------------------------------------


@pytest.mark.parametrize("bad", [-1, MAX_DAYS + 1, True])
def test_day_values_are_bounded_integers(bad: Any) -> None:
    with pytest.raises(ValueError, match="days"):
        IntValue(bad, Origin.CUSTOMER)


def test_origin_must_be_an_origin() -> None:
    with pytest.raises(ValueError, match="origin"):
        IntValue(1, "Customer Policy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="boolean"):
        BoolValue(1, Origin.CUSTOMER)  # type: ignore[arg-type]


def test_policy_needs_all_four_classes() -> None:
    rules = dict(CISCO_DEFAULT.rules)
    del rules[X]
    with pytest.raises(ValueError, match="export"):
        Policy(name=None, serial=0, ack_required=CISCO_DEFAULT.ack_required, rules=rules)


@pytest.mark.parametrize(("name", "serial"), [(None, 1), ("Custom", 0), ("", 1), (" ", 1)])
def test_name_and_serial_go_together(name: str | None, serial: int) -> None:
    with pytest.raises(ValueError, match=r"serial|name"):
        Policy(
            name=name,
            serial=serial,
            ack_required=CISCO_DEFAULT.ack_required,
            rules=CISCO_DEFAULT.rules,
        )


def test_rules_are_read_only_and_policies_hashable() -> None:
    with pytest.raises(TypeError):
        CISCO_DEFAULT.rules[P] = CISCO_DEFAULT.rule(S)  # type: ignore[index]
    reordered = Policy(
        name=None,
        serial=0,
        ack_required=CISCO_DEFAULT.ack_required,
        rules={c: CISCO_DEFAULT.rule(c) for c in reversed(PolicyClass)},
    )
    assert reordered == CISCO_DEFAULT
    assert hash(reordered) == hash(CISCO_DEFAULT)
    assert list(reordered.rules) == list(PolicyClass)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "", "serial": 1},
        {"name": "x" * 129, "serial": 1},
        {"name": "ok", "serial": 0},
        {"name": "ok", "serial": True},
        {"name": "ok", "serial": 1, "ack_required": 1},
        {"name": "ok", "serial": 1, "rules": {"premium": ClassOverrides(1)}},
    ],
)
def test_custom_spec_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - several messages, all ValueError
        CustomPolicySpec(**kwargs)


def test_class_overrides_validate_days() -> None:
    with pytest.raises(ValueError, match="report_on_change"):
        ClassOverrides(report_on_change=MAX_DAYS + 1)


def test_empty_overrides_mean_no_overrides() -> None:
    a = CustomPolicySpec("A", 1, rules={E: ClassOverrides(), P: ClassOverrides(1)})
    b = CustomPolicySpec("A", 1, rules={P: ClassOverrides(1)})
    assert a == b
    assert hash(a) == hash(b)
    assert list(a.rules) == [P]


# --- merge ----------------------------------------------------------------------------------


def test_merge_mixes_origins_field_by_field() -> None:
    merged = merge(CISCO_DEFAULT, SLE_SPEC)
    assert merged.name == "SLE Policy"
    assert merged.serial == 7
    assert not merged.is_default
    assert merged.ack_required == BoolValue(True, Origin.CUSTOMER)
    assert merged.rule(E).first_report == IntValue(0, Origin.CISCO_DEFAULT)
    assert merged.rule(E).reporting_frequency == IntValue(90, Origin.CUSTOMER)
    assert merged.rule(X).first_report == IntValue(0, Origin.CISCO_DEFAULT)
    assert merged.rule(S).reporting_frequency == IntValue(111, Origin.CUSTOMER)


def test_merge_of_an_empty_spec_keeps_every_value_but_takes_the_identity() -> None:
    merged = merge(CISCO_DEFAULT, CustomPolicySpec("Renamed", 2))
    assert merged.rules == CISCO_DEFAULT.rules
    assert merged.ack_required == CISCO_DEFAULT.ack_required
    assert (merged.name, merged.serial) == ("Renamed", 2)


def test_a_custom_value_equal_to_the_default_still_shows_customer_origin() -> None:
    merged = merge(CISCO_DEFAULT, S1_SPEC)
    assert merged.rule(P).first_report == IntValue(365, Origin.CUSTOMER)


# --- display --------------------------------------------------------------------------------

DEFAULT_BLOCK = """\
Policy:
  Policy in use: Merged from multiple sources.
  Reporting ACK required: yes (CISCO default)
  Unenforced/Non-Export Perpetual Attributes:
    First report requirement (days): 365 (CISCO default)
    Reporting frequency (days): 0 (CISCO default)
    Report on change (days): 90 (CISCO default)
  Unenforced/Non-Export Subscription Attributes:
    First report requirement (days): 90 (CISCO default)
    Reporting frequency (days): 90 (CISCO default)
    Report on change (days): 90 (CISCO default)
  Enforced (Perpetual/Subscription) License Attributes:
    First report requirement (days): 0 (CISCO default)
    Reporting frequency (days): 0 (CISCO default)
    Report on change (days): 0 (CISCO default)
  Export (Perpetual/Subscription) License Attributes:
    First report requirement (days): 0 (CISCO default)
    Reporting frequency (days): 0 (CISCO default)
    Report on change (days): 0 (CISCO default)"""

# genie ShowLicenseTechSupport golden_output_2 (a C9300 on 17.x, installed Mar 22 2022).
SLE_BLOCK = """\
Policy:
  Policy in use: Installed On Mar 22 11:19:35 2022 UTC
  Policy name: SLE Policy
  Reporting ACK required: yes (Customer Policy)
  Unenforced/Non-Export Perpetual Attributes:
    First report requirement (days): 30 (Customer Policy)
    Reporting frequency (days): 60 (Customer Policy)
    Report on change (days): 60 (Customer Policy)
  Unenforced/Non-Export Subscription Attributes:
    First report requirement (days): 120 (Customer Policy)
    Reporting frequency (days): 111 (Customer Policy)
    Report on change (days): 111 (Customer Policy)
  Enforced (Perpetual/Subscription) License Attributes:
    First report requirement (days): 0 (CISCO default)
    Reporting frequency (days): 90 (Customer Policy)
    Report on change (days): 60 (Customer Policy)
  Export (Perpetual/Subscription) License Attributes:
    First report requirement (days): 0 (CISCO default)
    Reporting frequency (days): 30 (Customer Policy)
    Report on change (days): 30 (Customer Policy)"""

# genie ShowLicenseStatus golden_output1 (reference §2.1 [S1]).
S1_BLOCK = """\
Policy:
  Policy in use: Installed On Oct 14 11:37:52 2021 UTC
  Policy name: Custom Policy
  Reporting ACK required: yes (Customer Policy)
  Unenforced/Non-Export Perpetual Attributes:
    First report requirement (days): 365 (Customer Policy)
    Reporting frequency (days): 0 (Customer Policy)
    Report on change (days): 90 (Customer Policy)
  Unenforced/Non-Export Subscription Attributes:
    First report requirement (days): 90 (Customer Policy)
    Reporting frequency (days): 90 (Customer Policy)
    Report on change (days): 90 (Customer Policy)
  Enforced (Perpetual/Subscription) License Attributes:
    First report requirement (days): 365 (Customer Policy)
    Reporting frequency (days): 90 (Customer Policy)
    Report on change (days): 90 (Customer Policy)
  Export (Perpetual/Subscription) License Attributes:
    First report requirement (days): 365 (Customer Policy)
    Reporting frequency (days): 90 (Customer Policy)
    Report on change (days): 90 (Customer Policy)"""


def test_display_default() -> None:
    assert "\n".join(display_lines(CISCO_DEFAULT, None)) == DEFAULT_BLOCK


def test_display_default_ignores_an_install_time() -> None:
    # The default is built in; devices never print "Installed On" for it.
    assert "\n".join(display_lines(CISCO_DEFAULT, utc(2022, 3, 22, 11, 19, 35))) == DEFAULT_BLOCK


def test_display_custom_with_mixed_origins() -> None:
    policy = merge(CISCO_DEFAULT, SLE_SPEC)
    lines = display_lines(policy, utc(2022, 3, 22, 11, 19, 35))
    assert "\n".join(lines) == SLE_BLOCK


def test_display_custom_all_customer_values() -> None:
    lines = display_lines(merge(CISCO_DEFAULT, S1_SPEC), utc(2021, 10, 14, 11, 37, 52))
    assert "\n".join(lines) == S1_BLOCK


def test_display_named_policy_without_install_time() -> None:
    lines = display_lines(merge(CISCO_DEFAULT, S1_SPEC), None)
    assert lines[1:3] == [
        "  Policy in use: Merged from multiple sources.",
        "  Policy name: Custom Policy",
    ]


def test_display_ack_not_required() -> None:
    policy = merge(CISCO_DEFAULT, CustomPolicySpec("No ACK", 1, ack_required=False))
    assert "  Reporting ACK required: no (Customer Policy)" in display_lines(policy, 0)


# --- JSON -----------------------------------------------------------------------------------


def test_json_shape() -> None:
    data = merge(CISCO_DEFAULT, SLE_SPEC).to_json()
    assert list(data) == ["name", "serial", "ack_required", "rules"]
    assert data["name"] == "SLE Policy"
    assert data["serial"] == 7
    assert data["ack_required"] == {"value": True, "origin": "Customer Policy"}
    assert list(data["rules"]) == [c.value for c in PolicyClass]
    assert data["rules"]["enforced"] == {
        "first_report": {"value": 0, "origin": "CISCO default"},
        "reporting_frequency": {"value": 90, "origin": "Customer Policy"},
        "report_on_change": {"value": 60, "origin": "Customer Policy"},
    }
    assert CISCO_DEFAULT.to_json()["name"] is None


def test_json_survives_the_wire() -> None:
    policy = merge(CISCO_DEFAULT, SLE_SPEC)
    wire = jsonio.dumps(policy.to_json())
    assert Policy.from_json(jsonio.Fields(jsonio.loads(wire), "policy")) == policy
    assert jsonio.dumps(CISCO_DEFAULT.to_json()) == jsonio.dumps(CISCO_DEFAULT.to_json())


def _mutated(mutate: Any) -> dict[str, Any]:
    data = copy.deepcopy(merge(CISCO_DEFAULT, SLE_SPEC).to_json())
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["rules"].pop("export"), r"policy\.rules\.export: missing"),
        (lambda d: d["rules"].update(premium={}), r"policy\.rules: unknown field\(s\) premium"),
        (
            lambda d: d["rules"]["enforced"].pop("report_on_change"),
            r"policy\.rules\.enforced\.report_on_change: missing",
        ),
        (
            lambda d: d["rules"]["enforced"].update(grace=1),
            r"policy\.rules\.enforced: unknown field\(s\) grace",
        ),
        (
            lambda d: d["rules"]["export"]["first_report"].update(value=MAX_DAYS + 1),
            r"policy\.rules\.export\.first_report\.value: must be at most 3650",
        ),
        (
            lambda d: d["rules"]["export"]["first_report"].update(value=-1),
            r"policy\.rules\.export\.first_report\.value: must be at least 0",
        ),
        (
            lambda d: d["rules"]["export"]["first_report"].update(value="30"),
            r"\.value: expected an integer, got a string",
        ),
        (
            lambda d: d["rules"]["export"]["first_report"].update(value=True),
            r"\.value: expected an integer, got a boolean",
        ),
        (
            lambda d: d["rules"]["export"]["first_report"].update(origin="Cisco default"),
            r"policy\.rules\.export\.first_report\.origin: must be one of",
        ),
        (
            lambda d: d["rules"]["export"]["first_report"].pop("origin"),
            r"policy\.rules\.export\.first_report\.origin: missing",
        ),
        (lambda d: d["ack_required"].update(value="yes"), r"ack_required\.value: expected a b"),
        (lambda d: d.pop("name"), r"policy\.name: missing"),
        (lambda d: d.update(name=None), r"policy\.serial: must be 0 for an unnamed"),
        (lambda d: d.update(serial=0), r"policy\.serial: must be at least 1 for a named"),
        (lambda d: d.update(serial=-1), r"policy\.serial: must be at least 0"),
        (lambda d: d.update(name="   "), r"policy\.name: must not be blank"),
        (lambda d: d.update(name="x" * 129), r"policy\.name: longer than 128"),
        (lambda d: d.update(extra=1), r"policy: unknown field\(s\) extra"),
        (lambda d: d.update(rules=[]), r"policy\.rules: expected an object, got a list"),
    ],
)
def test_from_json_rejects_with_a_path(mutate: Any, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        Policy.from_json(jsonio.Fields(_mutated(mutate), "policy"))


def test_float_days_never_reach_the_model() -> None:
    wire = jsonio.dumps(CISCO_DEFAULT.to_json()).replace(b'"value":365', b'"value":365.0')
    with pytest.raises(FormatError, match="floats"):
        jsonio.loads(wire, what="policy")


def test_custom_spec_json() -> None:
    data = SLE_SPEC.to_json()
    assert data["ack_required"] is True
    assert data["rules"]["export"] == {
        "first_report": None,
        "reporting_frequency": 30,
        "report_on_change": 30,
    }
    assert CustomPolicySpec.from_json(jsonio.Fields(data, "spec")) == SLE_SPEC
    sparse = {"name": "S", "serial": 1, "ack_required": None, "rules": {"export": {}}}
    assert CustomPolicySpec.from_json(jsonio.Fields(sparse, "spec")) == CustomPolicySpec("S", 1)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "S", "serial": 1, "ack_required": None}, r"spec\.rules: missing"),
        (
            {"name": "S", "serial": 1, "ack_required": None, "rules": {"gold": {}}},
            r"spec\.rules: unknown field\(s\) gold",
        ),
        (
            {"name": "S", "serial": 1, "ack_required": None, "rules": {"export": {"x": 1}}},
            r"spec\.rules\.export: unknown field\(s\) x",
        ),
        (
            {
                "name": "S",
                "serial": 1,
                "ack_required": None,
                "rules": {"export": {"first_report": 4000}},
            },
            r"spec\.rules\.export\.first_report: must be at most 3650",
        ),
        ({"name": "S", "serial": 0, "ack_required": None, "rules": {}}, r"spec\.serial"),
        ({"name": "", "serial": 1, "ack_required": None, "rules": {}}, r"spec\.name"),
        ({"name": "S", "serial": 1, "ack_required": "y", "rules": {}}, r"spec\.ack_required"),
    ],
)
def test_custom_spec_from_json_rejects(data: dict[str, Any], message: str) -> None:
    with pytest.raises(FormatError, match=message):
        CustomPolicySpec.from_json(jsonio.Fields(data, "spec"))


# --- properties -----------------------------------------------------------------------------

days = st.integers(0, MAX_DAYS)
origins = st.sampled_from(Origin)
int_values = st.builds(IntValue, days, origins)
class_rules = st.builds(ClassRules, int_values, int_values, int_values)
rule_maps = st.fixed_dictionaries(dict.fromkeys(PolicyClass, class_rules))
names = st.text(min_size=1, max_size=128).filter(lambda s: bool(s.strip()))
serials = st.integers(1, 2**63 - 1)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    named = draw(st.booleans())
    return Policy(
        name=draw(names) if named else None,
        serial=draw(serials) if named else 0,
        ack_required=BoolValue(draw(st.booleans()), draw(origins)),
        rules=draw(rule_maps),
    )


opt_days = st.none() | days
overrides = st.builds(ClassOverrides, opt_days, opt_days, opt_days)
specs = st.builds(
    CustomPolicySpec,
    name=names,
    serial=serials,
    ack_required=st.none() | st.booleans(),
    rules=st.dictionaries(st.sampled_from(PolicyClass), overrides),
)
default_tables = st.fixed_dictionaries(
    {c: st.builds(RuleDays, days, days, days) for c in PolicyClass}
)


@given(policies(), specs)
def test_merge_never_loses_a_field_and_custom_values_win(
    base: Policy, spec: CustomPolicySpec
) -> None:
    merged = merge(base, spec)
    assert (merged.name, merged.serial) == (spec.name, spec.serial)
    assert list(merged.rules) == list(PolicyClass)
    for cls in PolicyClass:
        given_values = spec.rules.get(cls, ClassOverrides())
        for f in RuleField:
            value = merged.rule(cls).get(f)
            wanted = given_values.get(f)
            if wanted is None:
                assert value == base.rule(cls).get(f)
            else:
                assert value == IntValue(wanted, Origin.CUSTOMER)
    if spec.ack_required is None:
        assert merged.ack_required == base.ack_required
    else:
        assert merged.ack_required == BoolValue(spec.ack_required, Origin.CUSTOMER)


@given(default_tables, st.booleans(), specs)
def test_origin_is_customer_iff_the_spec_set_it(
    table: dict[PolicyClass, RuleDays], ack: bool, spec: CustomPolicySpec
) -> None:
    merged = merge(default_policy(table, ack_required=ack), spec)
    for cls in PolicyClass:
        for f in RuleField:
            is_set = spec.rules.get(cls, ClassOverrides()).get(f) is not None
            assert (merged.rule(cls).get(f).origin is Origin.CUSTOMER) == is_set
    assert (merged.ack_required.origin is Origin.CUSTOMER) == (spec.ack_required is not None)


@given(policies())
def test_json_round_trip(policy: Policy) -> None:
    assert Policy.from_json(jsonio.Fields(policy.to_json(), "policy")) == policy
    wire = jsonio.dumps(policy.to_json())
    assert Policy.from_json(jsonio.Fields(jsonio.loads(wire), "policy")) == policy


@given(specs)
def test_spec_json_round_trip(spec: CustomPolicySpec) -> None:
    wire = jsonio.dumps(spec.to_json())
    assert CustomPolicySpec.from_json(jsonio.Fields(jsonio.loads(wire), "spec")) == spec


@given(policies(), st.none() | st.integers(0, 2**33))
def test_display_has_one_line_per_field(policy: Policy, installed_at: int | None) -> None:
    lines = display_lines(policy, installed_at)
    assert lines[0] == "Policy:"
    assert len(lines) == 3 + (policy.name is not None) + 4 * 4
    values = [line for line in lines if line.startswith("    ")]
    assert len(values) == 12
    assert all(line.endswith(("(CISCO default)", "(Customer Policy)")) for line in values)
