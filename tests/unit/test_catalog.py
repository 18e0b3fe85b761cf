"""License catalog: the default data, strict reading, lookups and the show-command texts."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartlic.core import jsonio
from smartlic.core.catalog import (
    Catalog,
    Duration,
    EnforcementType,
    License,
    Platform,
    default_catalog,
    tag_problem,
)
from smartlic.core.errors import FormatError, NotFoundError, OversizedError
from smartlic.core.license_class import PolicyClass

TAG = "regid.2017-03.com.cisco.advantagek9,1.0_a3a58067-2d37-4ffa-bfc9-b258e1375fa9"
SWID = "regid.2017-05.com.cisco.C9300,v1_5f207e11-fd92-4f67-a59e-0ddece374d13"


def make_license(**overrides: Any) -> License:
    values: dict[str, Any] = {
        "name": "network-advantage",
        "entitlement_tag": TAG,
        "display_name": "C9300-24 Network Advantage",
        "description": "C9300-24 Network Advantage",
        "version": "1.0",
        "enforcement": EnforcementType.UNENFORCED,
        "duration": Duration.PERPETUAL,
    }
    values.update(overrides)
    return License(**values)


def document() -> dict[str, Any]:
    """A fresh, mutable copy of the shipped catalog document."""
    data = (resources.files("smartlic.core") / "data" / "catalog.json").read_bytes()
    loaded: dict[str, Any] = json.loads(data)
    return copy.deepcopy(loaded)


def encode(doc: Any) -> bytes:
    return json.dumps(doc).encode()


# --- the default catalog ---------------------------------------------------------------------


def test_default_catalog_loads_from_package_data() -> None:
    catalog = default_catalog()
    assert catalog is default_catalog(), "loaded once per process"
    assert catalog.names == (
        "network-essentials",
        "network-advantage",
        "dna-essentials",
        "dna-advantage",
        "air-network-advantage",
        "air-dna-advantage",
        "mrp-client",
        "hseck9",
    ), "file order"
    assert [lic.name for lic in catalog] == list(catalog.names)
    assert len(catalog) == 8
    assert catalog.platform == Platform(catalog.platform.software_id, "C9300")
    assert catalog.platform.software_id.startswith("regid.2017-05.com.cisco.C9300,v1_")


def test_default_catalog_represents_every_license_class() -> None:
    classes = {lic.policy_class for lic in default_catalog()}
    assert classes == set(PolicyClass)


def test_default_catalog_entries_are_as_devices_show_them() -> None:
    catalog = default_catalog()
    advantage = catalog.get("network-advantage")
    assert advantage.display_name == "C9300-24 Network Advantage"
    assert advantage.summary_entitlement() == "C9300-24 Network Advan..."
    assert advantage.enforcement.display == "NOT ENFORCED"
    assert advantage.duration.display == "Perpetual"
    assert catalog.get("dna-advantage").duration.display == "Subscription"
    hsec = catalog.get("hseck9")
    assert hsec.summary_entitlement() == "DNA_HSEC"
    assert hsec.enforcement.display == "EXPORT RESTRICTED"
    assert hsec.entitlement_tag.startswith("regid.2021-05.com.cisco.C9K_HSEC,1.0_")
    assert catalog.get("mrp-client").enforcement is EnforcementType.ENFORCED
    assert [lic.name for lic in catalog if lic.needs_authorization] == ["mrp-client", "hseck9"]


def test_default_catalog_round_trips() -> None:
    catalog = default_catalog()
    assert Catalog.from_json(catalog.to_json()) == catalog
    assert Catalog.from_json(catalog.to_json().decode()) == catalog


def test_lookup_by_tag() -> None:
    catalog = default_catalog()
    for lic in catalog:
        assert catalog.by_tag(lic.entitlement_tag) is lic
        assert lic.name in catalog
    with pytest.raises(NotFoundError, match=r"no license with entitlement tag 'regid\.x'"):
        catalog.by_tag("regid.x")


def test_get_suggests_close_names() -> None:
    with pytest.raises(NotFoundError) as caught:
        default_catalog().get("network-advantag")
    assert caught.value.reason.startswith("no license named 'network-advantag' in the catalog")
    assert "did you mean network-advantage" in caught.value.reason


def test_get_lists_known_names_when_nothing_is_close() -> None:
    with pytest.raises(NotFoundError, match="known licenses: network-essentials, network-adv"):
        default_catalog().get("zzz")


def test_catalog_is_immutable() -> None:
    catalog = default_catalog()
    with pytest.raises(AttributeError):
        catalog.licenses = ()  # type: ignore[misc]
    assert isinstance(catalog.licenses, tuple)


# --- enums and license properties --------------------------------------------------------------


def test_display_texts() -> None:
    assert [e.display for e in EnforcementType] == ["NOT ENFORCED", "ENFORCED", "EXPORT RESTRICTED"]
    assert [d.display for d in Duration] == ["Perpetual", "Subscription"]
    assert [e.value for e in EnforcementType] == ["unenforced", "enforced", "export_controlled"]


@pytest.mark.parametrize(
    ("enforcement", "duration", "policy_class", "needs_authorization"),
    [
        ("unenforced", "perpetual", PolicyClass.UNENFORCED_PERPETUAL, False),
        ("unenforced", "subscription", PolicyClass.UNENFORCED_SUBSCRIPTION, False),
        ("enforced", "perpetual", PolicyClass.ENFORCED, True),
        ("enforced", "subscription", PolicyClass.ENFORCED, True),
        ("export_controlled", "perpetual", PolicyClass.EXPORT, True),
        ("export_controlled", "subscription", PolicyClass.EXPORT, True),
    ],
)
def test_policy_class(
    enforcement: str, duration: str, policy_class: PolicyClass, needs_authorization: bool
) -> None:
    lic = make_license(enforcement=EnforcementType(enforcement), duration=Duration(duration))
    assert lic.policy_class is policy_class
    assert lic.needs_authorization is needs_authorization


@pytest.mark.parametrize(
    ("display_name", "shown"),
    [
        # Real device output (genieparser ShowLicenseSummary golden_output4): 26 characters are
        # cut to 22 + "...", 22 characters are printed whole.
        ("C9300-24 Network Advantage", "C9300-24 Network Advan..."),
        ("C9300-48 Network Advantage", "C9300-48 Network Advan..."),
        ("C9300-24 DNA Advantage", "C9300-24 DNA Advantage"),
        ("DNA_HSEC", "DNA_HSEC"),
        ("X" * 25, "X" * 25),
        ("X" * 26, "X" * 22 + "..."),
        ("C9300-24 Network Essentials", "C9300-24 Network Essen..."),
    ],
)
def test_summary_entitlement_truncates_like_the_device(display_name: str, shown: str) -> None:
    assert make_license(display_name=display_name).summary_entitlement() == shown


def test_summary_entitlement_width() -> None:
    lic = make_license(display_name="C9300-24 Network Advantage")
    assert lic.summary_entitlement(26) == "C9300-24 Network Advantage"
    assert lic.summary_entitlement(10) == "C9300-2..."
    assert len(lic.summary_entitlement(10)) == 10
    with pytest.raises(ValueError, match="at least 4"):
        lic.summary_entitlement(3)


@given(st.text(alphabet="abcdefgh XYZ-0123", min_size=1, max_size=64), st.integers(4, 70))
def test_summary_entitlement_never_exceeds_width(text: str, width: int) -> None:
    text = text.strip() or "x"
    shown = make_license(display_name=text).summary_entitlement(width)
    assert len(shown) <= width
    assert shown == text or (shown.endswith("...") and text.startswith(shown[:-3]))


# --- tags and license validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    "tag",
    [
        TAG,
        SWID,
        "regid.2021-05.com.cisco.C9K_HSEC,1.0_56c9cdf3-c61c-48ca-9b62-cebc0d92825c",
        "regid.2018-01.com.cisco.C9500-DNA-32QC-A,1.0_1fd2bf73-201e-472b-a287-65f23ec80f3e",
        "regid.2019-01.com.cisco.ESR_P_2.5G_P,1.0_1fd2bf73-201e-472b-a287-65f23ec80f3e",
        "regid.2024-12.org.example-vendor.widget-pro,2.1_1fd2bf73-201e-472b-a287-65f23ec80f3e",
    ],
)
def test_valid_tags(tag: str) -> None:
    assert tag_problem(tag) is None


@pytest.mark.parametrize(
    ("tag", "reason"),
    [
        ("", "does not start with 'regid.'"),
        ("network-advantage", "does not start with 'regid.'"),
        ("REGID.2017-03.com.cisco.x,1.0_a3a58067-2d37-4ffa-bfc9-b258e1375fa9", "'regid.'"),
        ("regid.2017-13.com.cisco.x,1.0_a3a58067-2d37-4ffa-bfc9-b258e1375fa9", "YYYY-MM date"),
        ("regid.17-03.com.cisco.x,1.0_a3a58067-2d37-4ffa-bfc9-b258e1375fa9", "YYYY-MM date"),
        ("regid.2017-03.com.cisco.x_a3a58067-2d37-4ffa-bfc9-b258e1375fa9", "',<version>_<uuid>'"),
        ("regid.2017-03.com.cisco.x,1.0", "lower-case UUID"),
        ("regid.2017-03.com.cisco.x,1.0_A3A58067-2D37-4FFA-BFC9-B258E1375FA9", "lower-case UUID"),
        ("regid.2017-03.com.cisco.x,1.0_a3a58067-2d37-4ffa-bfc9-b258e1375fa", "lower-case UUID"),
        ("regid.2017-03.cisco,1.0_a3a58067-2d37-4ffa-bfc9-b258e1375fa9", "is malformed"),
        ("regid.2017-03.com.cisco.x,one_a3a58067-2d37-4ffa-bfc9-b258e1375fa9", "is malformed"),
        ("regid.2017-03.com.cisco.a b,1.0_a3a58067-2d37-4ffa-bfc9-b258e1375fa9", "is malformed"),
        (TAG + "\n", "lower-case UUID"),
        ("regid." + "a" * 300, "at most 200"),
    ],
)
def test_bad_tags_name_the_problem(tag: str, reason: str) -> None:
    problem = tag_problem(tag)
    assert problem is not None
    assert reason in problem


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"name": ""}, "the name must be 1 to 64"),
        ({"name": "network advantage"}, "the name must be"),
        ({"name": "-x"}, "the name must be"),
        ({"name": "x" * 65}, "the name must be"),
        ({"entitlement_tag": "regid.x"}, "the entitlement tag 'regid.x' has no valid YYYY-MM"),
        ({"display_name": ""}, "the display name is empty"),
        ({"display_name": "A\nB"}, "the display name contains a non-printable"),
        ({"display_name": " A"}, "leading or trailing spaces"),
        ({"display_name": "x" * 65}, "the display name is 65 characters long"),
        ({"description": ""}, "the description is empty"),
        ({"version": "v1"}, "the version 'v1' is not dotted digits"),
        ({"version": "1."}, "is not dotted digits"),
    ],
)
def test_license_validation(overrides: dict[str, Any], reason: str) -> None:
    with pytest.raises(FormatError, match=reason):
        make_license(**overrides)


# --- strict reading ----------------------------------------------------------------------------


def test_duplicate_name_is_refused() -> None:
    doc = document()
    doc["licenses"][3]["name"] = doc["licenses"][1]["name"]
    with pytest.raises(FormatError) as caught:
        Catalog.from_json(encode(doc))
    assert caught.value.reason == (
        "catalog.licenses[3]: duplicate license name 'network-advantage' (also licenses[1])"
    )


def test_duplicate_tag_is_refused() -> None:
    doc = document()
    doc["licenses"][2]["entitlement_tag"] = doc["licenses"][0]["entitlement_tag"]
    with pytest.raises(FormatError) as caught:
        Catalog.from_json(encode(doc))
    assert caught.value.reason.startswith(
        "catalog.licenses[2]: license 'dna-essentials' has the same entitlement tag as "
        "licenses[0] ('network-essentials')"
    )


def test_duplicate_json_key_is_refused() -> None:
    text = encode(document()).replace(b'"version": 1,', b'"version": 1, "version": 1,', 1)
    with pytest.raises(FormatError, match="duplicate JSON key 'version'"):
        Catalog.from_json(text)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.update(extra=1), "catalog: unknown field(s) extra"),
        (lambda d: d["platform"].update(vendor="x"), "catalog.platform: unknown field(s) vendor"),
        (lambda d: d["licenses"][4].update(count=1), "catalog.licenses[4]: unknown field(s) count"),
        (lambda d: d.pop("platform"), "catalog.platform: missing"),
        (lambda d: d["licenses"][0].pop("duration"), "catalog.licenses[0].duration: missing"),
        (lambda d: d.update(version=2), "catalog.version: unsupported catalog version 2"),
        (lambda d: d.update(version="1"), "catalog.version: expected an integer, got a string"),
        (lambda d: d.update(licenses=[]), "catalog.licenses: empty"),
        (lambda d: d.update(licenses={}), "catalog.licenses: expected a list"),
        (lambda d: d["licenses"].append("x"), "catalog.licenses[8]: expected an object"),
        (
            lambda d: d["licenses"][1].update(enforcement="ENFORCED"),
            "catalog.licenses[1].enforcement: must be one of enforced, export_controlled, "
            "unenforced; got 'ENFORCED'",
        ),
        (
            lambda d: d["licenses"][1].update(duration="term"),
            "catalog.licenses[1].duration: must be one of perpetual, subscription",
        ),
        (
            lambda d: d["licenses"][5].update(entitlement_tag="AIR-DNA-A"),
            "catalog.licenses[5].entitlement_tag: 'AIR-DNA-A' does not start with 'regid.'",
        ),
        (
            lambda d: d["licenses"][5].update(name="air dna"),
            "catalog.licenses[5]: license 'air dna': the name must be",
        ),
        (
            lambda d: d["licenses"][5].update(display_name=""),
            "catalog.licenses[5]: license 'air-dna-advantage': the display name is empty",
        ),
        (
            lambda d: d["platform"].update(software_id="C9300"),
            "catalog.platform: platform software ID 'C9300' does not start with 'regid.'",
        ),
        (
            lambda d: d["platform"].update(pid_family="C 9300"),
            "catalog.platform: platform PID family 'C 9300' must be",
        ),
        (lambda d: d.update(version=1.0), "floats are not allowed"),
    ],
)
def test_malformed_catalog_is_refused(mutate: Any, reason: str) -> None:
    doc = document()
    mutate(doc)
    with pytest.raises(FormatError) as caught:
        Catalog.from_json(encode(doc))
    assert reason in caught.value.reason


def test_truncated_catalog_is_refused_at_every_length() -> None:
    data = default_catalog().to_json()
    for cut in range(len(data)):
        with pytest.raises(FormatError, match=r"^catalog"):
            Catalog.from_json(data[:cut])


def test_truncation_is_named() -> None:
    data = default_catalog().to_json()
    with pytest.raises(FormatError, match="catalog is truncated"):
        Catalog.from_json(data[: data.rindex(b"}")])


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "catalog is truncated"),
        (b"[]", "catalog: expected an object, got a list"),
        (b"\xff{}", "catalog is not valid UTF-8"),
        (b"{} {}", "catalog is not valid JSON"),
    ],
)
def test_non_catalog_input_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(FormatError, match=reason):
        Catalog.from_json(data)


def test_oversized_catalog_is_refused() -> None:
    with pytest.raises(OversizedError, match="catalog is 2097152 bytes"):
        Catalog.from_json(b" " * (2 * 1024 * 1024))


def test_to_json_is_compact_and_in_file_order() -> None:
    data = default_catalog().to_json()
    assert data.startswith(b'{"version":1,"platform":{"software_id":"regid.2017-05.com.cisco.C9300')
    decoded = jsonio.loads(data)
    assert [item["name"] for item in decoded["licenses"]] == list(default_catalog().names)
    assert decoded == document()


def test_catalog_constructor_validates() -> None:
    platform = default_catalog().platform
    lic = make_license()
    assert Catalog(platform, (lic,)).get("network-advantage") is lic
    with pytest.raises(FormatError, match="duplicate license name"):
        Catalog(platform, (lic, make_license(entitlement_tag=SWID)))
    with pytest.raises(FormatError, match="same entitlement tag"):
        Catalog(platform, (lic, make_license(name="other")))
    with pytest.raises(FormatError, match="empty"):
        Catalog(platform, ())
