"""The %SMART_LIC catalog: texts as devices print them, slot rules, console layout, docs."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartlic.core import errors, sysmsg
from smartlic.core.sysmsg import (
    CATALOG,
    PEER_CSLU,
    PEER_CSSM,
    PEER_ONPREM,
    SA_VA_MISMATCH,
    SIGNATURE_MISMATCH,
    TIMESTAMP_MISMATCH,
    TRUST_ALREADY_INSTALLED,
    ClockMark,
    MessageDef,
    Severity,
    SystemMessage,
    UnknownMessageError,
    console_line,
    emit,
    explain,
    format_message,
)

UDI = "PID:C9300-24UX,SN:FCW2303D16Y"
REPO = Path(__file__).resolve().parents[2]
LINE = re.compile(r"%(?P<fac>[A-Z_]+)-(?P<sev>[0-7])-(?P<mn>[A-Z0-9_]+): (?P<body>.*)")

# 2024-11-27 23:22:42.123 UTC
NOV_27_MS = 1_732_749_762_123

SLP_MNEMONICS = {
    "PLATFORM_ERROR",
    "COMM_FAILED",
    "COMM_RESTORED",
    "COMM_INIT_FAILED",
    "POLICY_INSTALL_FAILED",
    "POLICY_INSTALL_SUCCESS",
    "TRUST_CODE_INSTALL_FAILED",
    "TRUST_INSTALL_SUCCESS",
    "AUTHORIZATION_INSTALL_FAILED",
    "AUTHORIZATION_INSTALL_SUCCESS",
    "AUTHORIZATION_REMOVED",
    "REPORTING_REQUIRED",
    "REPORTING_NOT_SUPPORTED",
    "HOT_STANDBY_OUT_OF_SYNC",
    "CONFIG_NOT_SAVED",
    "AGENT_READY",
    "AGENT_ENABLED",
    "EXPORT_CONTROLLED",
    "SYSTEM_CLOCK_CHANGED",
}


def _sample_args(defn: MessageDef) -> tuple[str | int, ...]:
    return tuple(7 if kind == "dec" else f"arg{i}" for i, kind in enumerate(defn.slots))


# --- trust code failures: the authoritative excerpt ---------------------------------------------


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (
            TRUST_ALREADY_INSTALLED,
            "%SMART_LIC-3-TRUST_CODE_INSTALL_FAILED: The install of a new licensing trust code "
            "has failed on PID:C9300-24UX,SN:FCW2303D16Y: Trust code is already installed.",
        ),
        (
            SA_VA_MISMATCH,
            "%SMART_LIC-3-TRUST_CODE_INSTALL_FAILED: The install of a new licensing trust code "
            "has failed on PID:C9300-24UX,SN:FCW2303D16Y: Smart Account-Virtual Account mismatch.",
        ),
        (
            SIGNATURE_MISMATCH,
            "%SMART_LIC-3-TRUST_CODE_INSTALL_FAILED: The install of a new licensing trust code "
            "has failed on PID:C9300-24UX,SN:FCW2303D16Y: Signature mismatch.",
        ),
        (
            TIMESTAMP_MISMATCH,
            "%SMART_LIC-3-TRUST_CODE_INSTALL_FAILED: The install of a new licensing trust code "
            "has failed on PID:C9300-24UX,SN:FCW2303D16Y: Timestamp mismatch.",
        ),
    ],
)
def test_trust_failure_reasons_format_as_the_device_prints(reason: str, expected: str) -> None:
    assert format_message("TRUST_CODE_INSTALL_FAILED", UDI, reason) == expected


def test_trust_reason_constants_are_exact() -> None:
    assert TRUST_ALREADY_INSTALLED == "Trust code is already installed"
    assert SA_VA_MISMATCH == "Smart Account-Virtual Account mismatch"
    assert SIGNATURE_MISMATCH == "Signature mismatch"
    assert TIMESTAMP_MISMATCH == "Timestamp mismatch"
    assert sysmsg.TRUST_FAILURE_REASONS == (
        TRUST_ALREADY_INSTALLED,
        SA_VA_MISMATCH,
        SIGNATURE_MISMATCH,
        TIMESTAMP_MISMATCH,
    )
    assert all(not r.endswith(".") for r in sysmsg.TRUST_FAILURE_REASONS)


def test_trust_reason_by_error_code_matches_the_error_classes() -> None:
    mapping = sysmsg.TRUST_REASON_BY_ERROR_CODE
    assert mapping[errors.AlreadyInstalledError("x").code] == TRUST_ALREADY_INSTALLED
    assert mapping[errors.AccountMismatchError("x").code] == SA_VA_MISMATCH
    assert mapping[errors.SignatureMismatchError("x").code] == SIGNATURE_MISMATCH
    assert mapping[errors.TimestampMismatchError("x").code] == TIMESTAMP_MISMATCH


def test_reason_with_its_own_period_does_not_double_it() -> None:
    line = format_message("TRUST_CODE_INSTALL_FAILED", UDI, "Timestamp mismatch.")
    assert line.endswith(": Timestamp mismatch.")
    assert ".." not in line
    # Only one period is taken: an ellipsis stays an ellipsis.
    assert format_message("POLICY_INSTALL_FAILED", "Timed out...").endswith("Timed out...")


def test_period_kept_where_the_template_does_not_end_the_sentence() -> None:
    line = format_message("COMM_FAILED", PEER_CSSM, "Fail to send out Call Home HTTP message.")
    assert line.endswith(" : Fail to send out Call Home HTTP message.")


# --- communication and other literal lines -----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            (PEER_CSSM, "Fail to send out Call Home HTTP message."),
            "%SMART_LIC-3-COMM_FAILED: Communications failure with the Cisco Smart Software "
            "Manager (CSSM) : Fail to send out Call Home HTTP message.",
        ),
        (
            (PEER_CSLU, "Unable to resolve server hostname/domain name"),
            "%SMART_LIC-3-COMM_FAILED: Communications failure with the Cisco Smart License "
            "Utility (CSLU) : Unable to resolve server hostname/domain name",
        ),
    ],
)
def test_comm_failed(args: tuple[str, str], expected: str) -> None:
    assert format_message("COMM_FAILED", *args) == expected


@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        (
            PEER_CSSM,
            "%SMART_LIC-5-COMM_RESTORED: Communications with the Cisco Smart Software Manager "
            "(CSSM) restored",
        ),
        (
            PEER_CSLU,
            "%SMART_LIC-5-COMM_RESTORED: Communications with the Cisco Smart License Utility "
            "(CSLU) restored",
        ),
    ],
)
def test_comm_restored(peer: str, expected: str) -> None:
    assert format_message("COMM_RESTORED", peer) == expected


def test_peer_names() -> None:
    assert PEER_CSSM == "Cisco Smart Software Manager (CSSM)"
    assert PEER_CSLU == "Cisco Smart License Utility (CSLU)"
    assert PEER_ONPREM.startswith("Cisco Smart Software Manager On-Prem")


def test_reporting_required_with_days() -> None:
    assert (
        format_message("REPORTING_REQUIRED", 364)
        == "%SMART_LIC-6-REPORTING_REQUIRED: A Usage report acknowledgement will be required "
        "in 364 days."
    )


def test_authorization_install_success_keeps_the_colon() -> None:
    assert (
        format_message("AUTHORIZATION_INSTALL_SUCCESS", UDI)
        == "%SMART_LIC-6-AUTHORIZATION_INSTALL_SUCCESS: A new licensing authorization code was "
        "successfully installed on: PID:C9300-24UX,SN:FCW2303D16Y."
    )


@pytest.mark.parametrize(
    ("mnemonic", "text"),
    [
        (
            "TRUST_CODE_INSTALL_FAILED",
            "The install of a new licensing trust code has failed on [chars]: [chars].",
        ),
        ("COMM_FAILED", "Communications failure with the [chars] : [chars]"),
        ("REPORTING_REQUIRED", "A Usage report acknowledgement will be required in [dec] days."),
        (
            "AUTHORIZATION_INSTALL_SUCCESS",
            "A new licensing authorization code was successfully installed on: [chars].",
        ),
        ("POLICY_INSTALL_SUCCESS", "A new licensing policy was successfully installed"),
        ("AGENT_READY", "Smart Agent for Licensing is initialized"),
        ("SYSTEM_CLOCK_CHANGED", "Smart Agent for Licensing System clock has been changed"),
        (
            "PLATFORM_ERROR",
            "Smart Licensing has encountered an internal software error. Contact TAC: [chars]",
        ),
    ],
)
def test_texts_are_verbatim(mnemonic: str, text: str) -> None:
    assert CATALOG[mnemonic].text == text


def test_zero_slot_message() -> None:
    assert (
        format_message("AGENT_READY")
        == "%SMART_LIC-6-AGENT_READY: Smart Agent for Licensing is initialized"
    )


# --- slot count and type errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("mnemonic", "args"),
    [
        ("TRUST_CODE_INSTALL_FAILED", (UDI,)),
        ("TRUST_CODE_INSTALL_FAILED", (UDI, "a", "b")),
        ("COMM_RESTORED", ()),
        ("AGENT_READY", ("extra",)),
        ("REPORTING_REQUIRED", ()),
    ],
)
def test_wrong_argument_count(mnemonic: str, args: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match=rf"{mnemonic} takes \d+ argument"):
        format_message(mnemonic, *args)


@pytest.mark.parametrize(
    ("mnemonic", "args", "slot"),
    [
        ("REPORTING_REQUIRED", ("30",), "dec"),
        ("REPORTING_REQUIRED", (True,), "dec"),
        ("REPORTING_REQUIRED", (30.0,), "dec"),
        ("COMM_RESTORED", (5,), "chars"),
        ("TRUST_CODE_INSTALL_FAILED", (UDI, 3), "chars"),
    ],
)
def test_wrong_argument_type(mnemonic: str, args: tuple[Any, ...], slot: str) -> None:
    with pytest.raises(ValueError, match=rf"fills \[{slot}\]"):
        format_message(mnemonic, *args)


def test_unknown_mnemonic_suggests_close_names() -> None:
    with pytest.raises(KeyError) as info:
        format_message("TRUST_CODE_INSTAL_FAILED", UDI, "x")
    assert isinstance(info.value, UnknownMessageError)
    assert "TRUST_CODE_INSTALL_FAILED" in info.value.suggestions
    assert "did you mean TRUST_CODE_INSTALL_FAILED" in str(info.value)
    assert not str(info.value).startswith('"')  # not KeyError's repr-quoted form


def test_unknown_mnemonic_without_close_names_lists_the_catalog() -> None:
    with pytest.raises(UnknownMessageError, match="known: PLATFORM_ERROR, COMM_FAILED"):
        format_message("ZZZZ")


# --- the catalog as a whole --------------------------------------------------------------------


def test_catalog_has_exactly_the_slp_messages() -> None:
    assert set(CATALOG) == SLP_MNEMONICS
    for key, defn in CATALOG.items():
        assert defn.mnemonic == key
        assert defn.facility == "SMART_LIC"
        assert defn.explanation
        assert defn.action


@pytest.mark.parametrize("mnemonic", sorted(SLP_MNEMONICS))
def test_every_entry_parses_and_prints_its_severity(mnemonic: str) -> None:
    defn = CATALOG[mnemonic]
    assert defn.slots == tuple(re.findall(r"\[(chars|dec)\]", defn.text))
    assert re.sub(r"\[(chars|dec)\]", "", defn.text).count("[") == 0
    line = format_message(mnemonic, *_sample_args(defn))
    match = LINE.fullmatch(line)
    assert match is not None
    assert match["fac"] == "SMART_LIC"
    assert match["mn"] == mnemonic
    assert int(match["sev"]) == defn.severity
    assert "[" not in match["body"]
    assert defn.severities[0] == defn.severity


def test_comm_init_failed_exists_at_three_and_five() -> None:
    defn = CATALOG["COMM_INIT_FAILED"]
    assert defn.severity == Severity.ERROR
    assert defn.severities == (Severity.ERROR, Severity.NOTIFICATION)
    three = format_message("COMM_INIT_FAILED", PEER_CSSM, "bad URL")
    five = format_message("COMM_INIT_FAILED", PEER_CSSM, "bad URL", severity=5)
    assert three.startswith("%SMART_LIC-3-COMM_INIT_FAILED: Failed to initialize communications")
    assert five == three.replace("-3-", "-5-", 1)
    with pytest.raises(ValueError, match="severity 3, 5 only"):
        format_message("COMM_INIT_FAILED", PEER_CSSM, "bad URL", severity=4)


@pytest.mark.parametrize("severity", [3, 9, -1, True])
def test_severity_override_refused_where_not_listed(severity: int) -> None:
    with pytest.raises(ValueError, match="AGENT_READY"):
        format_message("AGENT_READY", severity=severity)


def test_explicit_default_severity_is_accepted() -> None:
    assert format_message("AGENT_READY", severity=6) == format_message("AGENT_READY")


def test_severity_enum() -> None:
    assert [s.name for s in Severity] == [
        "EMERGENCY",
        "ALERT",
        "CRITICAL",
        "ERROR",
        "WARNING",
        "NOTIFICATION",
        "INFORMATIONAL",
        "DEBUGGING",
    ]
    assert [int(s) for s in Severity] == list(range(8))
    assert Severity.WARNING.keyword == "warnings"
    assert Severity.INFORMATIONAL.keyword == "informational"


def test_message_def_validates_its_template() -> None:
    with pytest.raises(ValueError, match=r"unknown slot\(s\) \[char\]"):
        MessageDef(
            mnemonic="X", severity=Severity.ERROR, text="a [char]", explanation="", action=""
        )
    with pytest.raises(ValueError, match="bad mnemonic"):
        MessageDef(
            mnemonic="bad-name", severity=Severity.ERROR, text="a", explanation="", action=""
        )
    defn = CATALOG["COMM_FAILED"]
    name = "text"
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(defn, name, "x")


def test_a_variant_entry_can_be_derived() -> None:
    critical = dataclasses.replace(CATALOG["REPORTING_REQUIRED"], severity=Severity.CRITICAL)
    assert critical.slots == ("dec",)
    assert critical.format(3).startswith("%SMART_LIC-2-REPORTING_REQUIRED: ")


def test_control_characters_cannot_split_the_line() -> None:
    forged = "oops\n*Nov 27 23:22:42.123: %SMART_LIC-6-TRUST_INSTALL_SUCCESS: fake"
    line = format_message("COMM_FAILED", PEER_CSSM, forged)
    assert "\n" not in line
    assert line.endswith(" : oops *Nov 27 23:22:42.123: %SMART_LIC-6-TRUST_INSTALL_SUCCESS: fake")
    assert "\u2028" not in format_message("COMM_RESTORED", "a\u2028b")


def test_slot_markers_inside_arguments_are_not_expanded() -> None:
    line = format_message("COMM_FAILED", "[chars]", "[dec]")
    assert line.endswith("the [chars] : [dec]")


# --- emitted messages and the console ----------------------------------------------------------


def test_emit() -> None:
    msg = emit("REPORTING_REQUIRED", 30, at_ms=NOV_27_MS)
    assert msg == SystemMessage(
        mnemonic="REPORTING_REQUIRED",
        severity=Severity.INFORMATIONAL,
        text="%SMART_LIC-6-REPORTING_REQUIRED: A Usage report acknowledgement will be required "
        "in 30 days.",
        at_ms=NOV_27_MS,
        args=(30,),
    )
    assert msg.definition is CATALOG["REPORTING_REQUIRED"]
    five = emit("COMM_INIT_FAILED", PEER_CSLU, "x", at_ms=0, severity=5)
    assert five.severity == Severity.NOTIFICATION
    assert five.text.startswith("%SMART_LIC-5-")


@pytest.mark.parametrize("at_ms", [1.5, "0", True])
def test_emit_requires_integer_milliseconds(at_ms: Any) -> None:
    with pytest.raises(ValueError, match="at_ms"):
        emit("AGENT_READY", at_ms=at_ms)


def test_console_line_layout() -> None:
    msg = emit("AGENT_READY", at_ms=NOV_27_MS)
    assert console_line(msg) == (
        "*Nov 27 23:22:42.123: %SMART_LIC-6-AGENT_READY: Smart Agent for Licensing is initialized"
    )
    assert console_line(msg, clock=ClockMark.SYNCHRONIZED).startswith("Nov 27 23:22:42.123: %")
    assert console_line(msg, clock=ClockMark.SYNC_LOST).startswith(".Nov 27 23:22:42.123: %")
    assert console_line(msg, "C9300-stack").startswith("C9300-stack: *Nov 27 23:22:42.123: %SMART")


def test_console_day_is_space_padded_and_milliseconds_zero_filled() -> None:
    # 2021-11-03 04:05:06.007 UTC
    msg = emit("AGENT_ENABLED", at_ms=1_635_912_306_007)
    assert console_line(msg).startswith("*Nov  3 04:05:06.007: %SMART_LIC-6-AGENT_ENABLED: ")
    assert sysmsg.console_stamp(0) == "Jan  1 00:00:00.000"
    assert sysmsg.console_stamp(-1) == "Dec 31 23:59:59.999"


def test_explain() -> None:
    text = explain("TRUST_CODE_INSTALL_FAILED")
    lines = text.splitlines()
    assert lines[0] == (
        "%SMART_LIC-3-TRUST_CODE_INSTALL_FAILED: The install of a new licensing trust code has "
        "failed on [chars]: [chars]."
    )
    assert lines[1].startswith("Explanation: ")
    assert lines[2].startswith("Recommended Action: ")
    assert "force" in lines[2]
    with pytest.raises(UnknownMessageError):
        explain("NOPE")


# --- property: any printable args fill in order ------------------------------------------------

_SAFE_TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cc", "Cs", "Zl", "Zp"),
        blacklist_characters="[",
    ),
    max_size=30,
)


@st.composite
def _message_and_args(draw: st.DrawFn) -> tuple[MessageDef, tuple[str | int, ...]]:
    defn = draw(st.sampled_from(list(CATALOG.values())))
    args: list[str | int] = []
    for kind in defn.slots:
        args.append(draw(st.integers()) if kind == "dec" else draw(_SAFE_TEXT))
    return defn, tuple(args)


@given(_message_and_args())
def test_any_args_format_and_appear_in_order(
    case: tuple[MessageDef, tuple[str | int, ...]],
) -> None:
    defn, args = case
    line = format_message(defn.mnemonic, *args)
    prefix = f"%SMART_LIC-{int(defn.severity)}-{defn.mnemonic}: "
    assert line.startswith(prefix)
    assert "\n" not in line
    position = len(prefix)
    for arg in args:
        shown = str(arg)
        position = line.find(shown.removesuffix("."), position)
        assert position >= 0, (shown, line)
        position += len(shown.removesuffix("."))
    assert len(line) - len(prefix) == (
        len(defn.text)
        - sum(len(f"[{k}]") for k in defn.slots)
        + sum(len(_shown(defn, i, a)) for i, a in enumerate(args))
    )


def _shown(defn: MessageDef, index: int, arg: str | int) -> str:
    """What the message should show for argument ``index``: the one-period rule, nothing else."""
    if isinstance(arg, int):
        return str(arg)
    slots = list(re.finditer(r"\[(chars|dec)\]", defn.text))
    followed_by_period = defn.text.startswith(".", slots[index].end())
    return arg.removesuffix(".") if followed_by_period else arg


# --- generated documentation -------------------------------------------------------------------


def _load_generator() -> ModuleType:
    path = REPO / "scripts" / "gen_sysmsg_doc.py"
    spec = importlib.util.spec_from_file_location("gen_sysmsg_doc", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_are_up_to_date() -> None:
    generator = _load_generator()
    doc = REPO / "docs" / "system-messages.md"
    assert doc.read_text(encoding="utf-8") == generator.render(), (
        "docs/system-messages.md is stale: run .venv/bin/python scripts/gen_sysmsg_doc.py"
    )


def test_doc_lists_every_message_and_check_mode_detects_drift(tmp_path: Path) -> None:
    generator = _load_generator()
    rendered = generator.render()
    for defn in CATALOG.values():
        assert f"`{defn.template}`" in rendered
        assert defn.action in rendered
    target = tmp_path / "system-messages.md"
    assert generator.main(["--check", "--output", str(target)]) == 1
    assert generator.main(["--output", str(target)]) == 0
    assert generator.main(["--check", "--output", str(target)]) == 0
    target.write_text(rendered.replace("364", "365") + "edit\n", encoding="utf-8")
    assert generator.main(["--check", "--output", str(target)]) == 1
