"""UDI and HA set: the three spellings of a UDI, strict parsing, and HA role rules."""

from __future__ import annotations

import re
import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartlic.core import jsonio
from smartlic.core.errors import FormatError, NotFoundError
from smartlic.core.udi import MAX_HA_MEMBERS, HaMember, HaRole, HaSet, Udi

UDI_CHARS = "".join(c for c in string.printable if c not in ",:;" and not c.isspace())
parts = st.text(alphabet=UDI_CHARS, min_size=1, max_size=40)
udis = st.builds(Udi, pid=parts, sn=parts)

A = Udi("C9300-24UX", "FCW2303D16Y")
B = Udi("C9300-24U", "FHH2043P09E")
C = Udi("C9300-48T", "FCW2139L056")
D = Udi("C9300-48T", "FCW2139L057")


# --- Udi ------------------------------------------------------------------------------------


def test_parse_long_form() -> None:
    assert Udi.parse("PID:C9300-24UX,SN:FCW2303D16Y") == A
    assert str(A) == "PID:C9300-24UX,SN:FCW2303D16Y"


def test_parse_short_form() -> None:
    udi = Udi.parse("P:C8200L-1N-4T,S:FGL2435LHLH")
    assert udi == Udi("C8200L-1N-4T", "FGL2435LHLH")
    assert udi.short() == "P:C8200L-1N-4T,S:FGL2435LHLH"


def test_parse_tolerates_surrounding_whitespace() -> None:
    assert Udi.parse("  PID:C9300-24UX,SN:FCW2303D16Y \r\n") == A


@given(udis)
def test_long_form_round_trip(udi: Udi) -> None:
    assert Udi.parse(str(udi)) == udi


@given(udis)
def test_short_form_round_trip(udi: Udi) -> None:
    assert Udi.parse(udi.short()) == udi


@given(udis)
def test_sudi_round_trip(udi: Udi) -> None:
    assert Udi.from_sudi(jsonio.Fields(udi.to_sudi(), "sudi")) == udi


@given(st.text(max_size=120))
def test_parse_arbitrary_text_gives_a_udi_or_a_format_error(text: str) -> None:
    reason = ""
    try:
        udi = Udi.parse(text)
    except FormatError as exc:
        reason = exc.reason
    else:
        assert Udi.parse(str(udi)) == udi
    assert not reason or reason.startswith("UDI")


@given(udis, st.sampled_from([" ", "\t", ",", ":", ";", "\x00", "\x7f", "é"]), st.data())
def test_any_forbidden_character_is_refused(udi: Udi, bad: str, data: st.DataObject) -> None:
    at = data.draw(st.integers(min_value=0, max_value=len(udi.sn)))
    with pytest.raises(FormatError, match="serial number"):
        Udi(udi.pid, udi.sn[:at] + bad + udi.sn[at:])


BAD_UDIS = [
    ("", "UDI is empty"),
    ("   ", "UDI is empty"),
    ("PID:X", "has no serial number"),
    ("P:X", "has no serial number"),
    ("SN:Y", "has no PID"),
    ("S:Y", "has no PID"),
    ("SN:1,PID:A", "serial number before the PID"),
    ("PID:,SN:1", "the PID is empty"),
    ("PID:A,SN:", "the serial number is empty"),
    ("PID:A,SN:1,extra", "unexpected text after the serial number: ',extra'"),
    ("PID:A B,SN:1", "the PID contains whitespace at position 2"),
    ("PID:A,SN:1 2", "the serial number contains whitespace at position 2"),
    ("PID:A:B,SN:1", "the PID contains ':' at position 2"),
    ("PID:A,SN:1;2", "the serial number contains ';' at position 2"),
    ("PID:A,S:1", "mixes the long"),
    ("P:A,SN:1", "mixes the long"),
    ("PID:A,XN:1", "expected 'SN:' after the comma"),
    ("PID:A;SN:1", "has no serial number"),
    ("pid:A,sn:1", "does not start with 'PID:'"),
    ("C9300:FCW2303D16Y", "does not start with 'PID:'"),
    ("PID:C93\u00e9,SN:1", "non-printable or non-ASCII"),
    ("PID:A,SN:1\x00", "non-printable or non-ASCII"),
    ("PID:" + "A" * 41 + ",SN:1", "the PID is 41 characters long (at most 40)"),
    ("PID:A,SN:" + "9" * 41, "the serial number is 41 characters long (at most 40)"),
    ("PID:" + "A" * 100_000 + ",SN:1", "the PID is 100000 characters long"),
]


@pytest.mark.parametrize(("text", "reason"), BAD_UDIS)
def test_malformed_udi_is_refused_with_its_reason(text: str, reason: str) -> None:
    with pytest.raises(FormatError) as caught:
        Udi.parse(text)
    assert reason in caught.value.reason
    assert len(caught.value.reason) < 300, "error messages must not echo huge input"


def test_error_names_the_input_and_the_expected_form() -> None:
    with pytest.raises(FormatError) as caught:
        Udi.parse("PID:C9300")
    assert caught.value.reason == (
        "UDI 'PID:C9300' has no serial number (expected PID:<pid>,SN:<serial>)"
    )


@pytest.mark.parametrize(
    ("pid", "sn", "reason"),
    [
        ("", "1", "the PID is empty"),
        ("A", "", "the serial number is empty"),
        ("A B", "1", "whitespace"),
        ("A", "1,2", "','"),
        ("A" * 41, "1", "at most 40"),
    ],
)
def test_constructor_validates(pid: str, sn: str, reason: str) -> None:
    with pytest.raises(FormatError, match=reason):
        Udi(pid, sn)


def test_udi_is_hashable_and_immutable() -> None:
    assert len({A, Udi.parse(str(A)), B}) == 2
    with pytest.raises(AttributeError):
        A.pid = "X"  # type: ignore[misc]


def test_to_sudi_is_the_rum_layout() -> None:
    assert A.to_sudi() == {"udi_pid": "C9300-24UX", "udi_serial_number": "FCW2303D16Y"}


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ({"udi_pid": "A"}, "sudi.udi_serial_number: missing"),
        ({"udi_pid": 1, "udi_serial_number": "1"}, "sudi.udi_pid: expected a string"),
        ({"udi_pid": "A", "udi_serial_number": "1", "x": 1}, "sudi: unknown field(s) x"),
        ({"udi_pid": "A B", "udi_serial_number": "1"}, "sudi.udi_pid: the PID 'A B' contains"),
        ({"udi_pid": "A", "udi_serial_number": ""}, "sudi.udi_serial_number: the serial number"),
        ([], "sudi: expected an object"),
    ],
)
def test_from_sudi_names_the_bad_field(obj: Any, reason: str) -> None:
    with pytest.raises(FormatError) as caught:
        Udi.from_sudi(jsonio.Fields(obj, "sudi"))
    assert reason in caught.value.reason


# --- HaSet ----------------------------------------------------------------------------------


def test_role_values_are_the_device_spelling() -> None:
    assert [role.value for role in HaRole] == ["Active", "Standby", "Member"]


def test_standalone() -> None:
    ha = HaSet.standalone(A)
    assert ha.active == A
    assert ha.standby is None
    assert ha.udis == (A,)
    assert ha.to_json() == [{"role": "Active", "sudi": A.to_sudi()}]


def test_stack_accessors() -> None:
    ha = HaSet(
        (
            HaMember(HaRole.MEMBER, C),
            HaMember(HaRole.STANDBY, B),
            HaMember(HaRole.ACTIVE, A),
            HaMember(HaRole.MEMBER, D),
        )
    )
    assert ha.active == A
    assert ha.standby == B
    assert ha.udis == (A, B, C, D), "device order: Active, Standby, then Members as given"
    assert ha.role_of(C) is HaRole.MEMBER
    assert ha.contains(D)
    assert not ha.contains(Udi("X", "Y"))
    with pytest.raises(NotFoundError, match="PID:X,SN:Y is not a member"):
        ha.role_of(Udi("X", "Y"))


def test_member_order_does_not_affect_equality() -> None:
    one = HaSet((HaMember(HaRole.ACTIVE, A), HaMember(HaRole.STANDBY, B)))
    two = HaSet((HaMember(HaRole.STANDBY, B), HaMember(HaRole.ACTIVE, A)))
    assert one == two
    assert hash(one) == hash(two)
    assert jsonio.dumps(one.to_json()) == jsonio.dumps(two.to_json())


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ((), "has no members"),
        (((HaRole.STANDBY, A),), "has no Active member"),
        (((HaRole.MEMBER, A), (HaRole.MEMBER, B)), "has no Active member"),
        (((HaRole.ACTIVE, A), (HaRole.ACTIVE, B)), "has 2 Active members"),
        (
            ((HaRole.ACTIVE, A), (HaRole.STANDBY, B), (HaRole.STANDBY, C)),
            "has 2 Standby members (PID:C9300-24U,SN:FHH2043P09E, PID:C9300-48T,SN:FCW2139L056)",
        ),
        (((HaRole.ACTIVE, A), (HaRole.MEMBER, A)), "appears more than once"),
        (
            ((HaRole.ACTIVE, A), (HaRole.STANDBY, A), (HaRole.MEMBER, A)),
            "appears more than once",
        ),
        (((HaRole.ACTIVE, A), (HaRole.STANDBY, B), (HaRole.MEMBER, B)), "appears more than once"),
        (
            ((HaRole.ACTIVE, A), *((HaRole.MEMBER, Udi("C9300", f"S{n}")) for n in range(16))),
            "has 17 members; at most 16",
        ),
    ],
)
def test_invalid_ha_sets_are_refused(members: tuple[tuple[HaRole, Udi], ...], reason: str) -> None:
    with pytest.raises(FormatError, match=re.escape(reason)):
        HaSet(tuple(HaMember(role, udi) for role, udi in members))


def test_dual_supervisor_chassis_lists_its_udi_as_active_and_standby() -> None:
    """A C9400/C9600 with two supervisors prints the chassis UDI twice in ``show license udi``;
    it is still one product instance, so it is reported, trusted and counted once."""
    chassis = Udi("C9407R", "FXS2119Q2U7")
    ha = HaSet.parse(f"Active:{chassis};Standby:{chassis}")
    assert [member.role for member in ha.members] == [HaRole.ACTIVE, HaRole.STANDBY]
    assert ha.udis == (chassis,)
    assert ha.standby == chassis
    assert ha.role_of(chassis) is HaRole.ACTIVE
    assert HaSet.from_json(ha.to_json()) == ha


def test_sixteen_members_are_allowed() -> None:
    members = [HaMember(HaRole.MEMBER, Udi("C9300", f"S{n}")) for n in range(MAX_HA_MEMBERS - 1)]
    assert len(HaSet((HaMember(HaRole.ACTIVE, A), *members)).members) == MAX_HA_MEMBERS


ha_sets = st.lists(udis, min_size=1, max_size=MAX_HA_MEMBERS, unique=True).flatmap(
    lambda members: st.tuples(st.just(members), st.booleans()).map(
        lambda pair: HaSet(
            tuple(
                HaMember(
                    HaRole.ACTIVE
                    if index == 0
                    else HaRole.STANDBY
                    if index == 1 and pair[1]
                    else HaRole.MEMBER,
                    udi,
                )
                for index, udi in enumerate(pair[0])
            )
        )
    )
)


@given(ha_sets)
def test_ha_json_round_trip(ha: HaSet) -> None:
    wire = jsonio.loads(jsonio.dumps(ha.to_json()))
    assert HaSet.from_json(wire, "meta.ha_udi") == ha


@given(ha_sets)
def test_ha_text_round_trip(ha: HaSet) -> None:
    assert HaSet.parse(str(ha)) == ha


def test_ha_json_layout() -> None:
    ha = HaSet((HaMember(HaRole.ACTIVE, A), HaMember(HaRole.STANDBY, B)))
    assert jsonio.dumps(ha.to_json()) == (
        b'[{"role":"Active","sudi":{"udi_pid":"C9300-24UX","udi_serial_number":"FCW2303D16Y"}},'
        b'{"role":"Standby","sudi":{"udi_pid":"C9300-24U","udi_serial_number":"FHH2043P09E"}}]'
    )


def _entry(role: str, udi: Udi) -> dict[str, Any]:
    return {"role": role, "sudi": udi.to_sudi()}


@pytest.mark.parametrize(
    ("items", "reason"),
    [
        ({"role": "Active"}, "meta.ha_udi: expected a list"),
        ([], "meta.ha_udi: HA set has no members"),
        ([_entry("active", A)], "meta.ha_udi[0].role: must be one of Active, Member, Standby"),
        ([{"sudi": A.to_sudi()}], "meta.ha_udi[0].role: missing"),
        ([_entry("Active", A), "x"], "meta.ha_udi[1]: expected an object"),
        ([{**_entry("Active", A), "extra": 1}], "meta.ha_udi[0]: unknown field(s) extra"),
        ([{"role": "Active", "sudi": {"udi_pid": "A"}}], "meta.ha_udi[0].sudi.udi_serial_number"),
        ([_entry("Active", A), _entry("Active", B)], "meta.ha_udi: HA set has 2 Active"),
        ([_entry("Active", A), _entry("Member", A)], "meta.ha_udi: UDI PID:C9300-24UX"),
        ([_entry("Active", A)] * 17, "meta.ha_udi: 17 HA members; at most 16"),
    ],
)
def test_ha_from_json_is_strict(items: Any, reason: str) -> None:
    with pytest.raises(FormatError) as caught:
        HaSet.from_json(items, "meta.ha_udi")
    assert reason in caught.value.reason


def test_ha_parse() -> None:
    ha = HaSet.parse(" Active:PID:A,SN:1 ; Standby:P:B,S:2;Member:PID:C,SN:3")
    assert ha.udis == (Udi("A", "1"), Udi("B", "2"), Udi("C", "3"))
    assert str(ha) == "Active:PID:A,SN:1;Standby:PID:B,SN:2;Member:PID:C,SN:3"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "HA set entry 1 ('') must look like <role>:PID:<pid>,SN:<serial>"),
        ("PID:A,SN:1", "HA set entry 1 ('PID:A,SN:1') must look like"),
        ("Active:PID:A,SN:1;", "HA set entry 2 ('') must look like"),
        ("active:PID:A,SN:1", "role Active, Standby, Member"),
        ("Active:PID:A", "HA set entry 1: UDI 'PID:A' has no serial number"),
        ("Standby:PID:A,SN:1", "HA set has no Active member"),
        ("Active:PID:A,SN:1;Member:PID:A,SN:1", "appears more than once"),
        (";".join(["Member:PID:A,SN:1"] * 17), "has 17 entries; at most 16"),
    ],
)
def test_ha_parse_refuses_bad_text(text: str, reason: str) -> None:
    with pytest.raises(FormatError) as caught:
        HaSet.parse(text)
    assert reason in caught.value.reason
