"""``show license ...`` output in the layouts of IOS XE (reference §7.3), from the agent's state.

Every function takes the agent (and sometimes a :class:`Facts` of shell-held settings) and
returns the text, lines joined with ``\\n`` and ending with one. Values always come from the
agent; the only constants are what describes this agent implementation itself (the "Other
Info" knobs of ``show license tech support``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from smartlic.core.catalog import Duration, EnforcementType, License
from smartlic.core.timefmt import device_time, eventlog_time
from smartlic.core.udi import HaSet, Udi
from smartlic.instance.agent import Agent
from smartlic.instance.base import CALLHOME_PROFILE, DEFAULT_CSLU_URL
from smartlic.instance.records import LicenseUse

HISTORY_OPERATIONS = (
    ("Trust Establishment", ("trust",)),
    ("Usage Reporting", ("usage", "hello")),
    ("Result Polling", ("poll",)),
    ("Authorization Request", ("authorization",)),
    ("Authorization Return", ("authorization_return",)),
    ("Trust Sync", ("trust_sync",)),
)
STAT_OPERATIONS = (
    ("Trust Establishment", ("trust",)),
    ("Trust Acknowledgement", ("trust_ack",)),
    ("Usage Reporting", ("usage",)),
    ("Result Polling", ("poll",)),
    ("Authorization Request", ("authorization",)),
    ("Authorization Confirmation", ("authorization_confirmation",)),
    ("Authorization Return", ("authorization_return",)),
    ("Trust Sync", ("trust_sync",)),
    ("Hello Message", ("hello",)),
    ("Telemetry Reporting", ("telemetry",)),
)


def agent_version() -> str:
    try:
        return f"smartlic/{metadata.version('smartlic')}"
    except metadata.PackageNotFoundError:  # pragma: no cover (source checkout without install)
        return "smartlic/0"


@dataclass
class Facts:
    """What the shell holds beside the agent: the device's clock source."""

    ntp: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _text(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _ha(agent: Agent) -> HaSet:
    return agent.identity.ha_set


def _udi_line(udi: Udi) -> str:
    return f"PID:{udi.pid},SN:{udi.sn}"


# --- account, privacy, transport, policy, usage reporting -----------------------------------


def account(agent: Agent) -> tuple[str, str, int | None]:
    """Smart account, virtual account and since when (trust code first, then the policy)."""
    trust = agent.trust_info()
    if trust.installed and trust.smart_account:
        return trust.smart_account, trust.virtual_account or "<none>", trust.installed_at
    grant = agent.policy_grant
    if grant is not None:
        return (
            grant.account.smart_account,
            grant.account.virtual_account,
            (agent.policy_installed_at()),
        )
    return "<none>", "<none>", None


def account_lines(agent: Agent) -> list[str]:
    smart, virtual, since = account(agent)
    shown = smart if since is None else f"{smart} As of {device_time(since)}"
    return ["Account Information:", f"  Smart Account: {shown}", f"  Virtual Account: {virtual}"]


def privacy_lines(agent: Agent) -> list[str]:
    config = agent.config
    hostname = "DISABLED" if not config.privacy_hostname else "ENABLED"
    return [
        "Data Privacy:",
        f"  Sending Hostname: {'no' if config.privacy_hostname else 'yes'}",
        "    Callhome hostname privacy: DISABLED",
        f"    Smart Licensing hostname privacy: {hostname}",
        f"  Version privacy: {'ENABLED' if config.privacy_version else 'DISABLED'}",
    ]


TRANSPORT_TYPES = {
    "cslu": "cslu",
    "smart": "Smart",
    "off": "Transport Off",
    "callhome": "Callhome",
    "automatic": "Automatic",
}
"""``Type:`` of ``show license status`` per configured transport (``Automatic`` is not in the
reference outputs; the lines after it show what it resolved to)."""


def transport_type(agent: Agent) -> str:
    return TRANSPORT_TYPES[agent.config.transport]


def transport_lines(agent: Agent) -> list[str]:
    config = agent.config
    lines = ["Transport:", f"  Type: {transport_type(agent)}"]
    if config.transport == "callhome":
        return lines  # a device prints only the type (the URL is in show call-home)
    effective = config.effective_transport()
    if effective == "cslu":
        url = "<empty>" if config.cslu_url == DEFAULT_CSLU_URL else config.cslu_url
        lines.append(f"  Cslu address: {url}")
    elif effective == "smart":
        lines.append(f"  URL: {config.smart_url}")
    if effective != "off":
        lines.append("  Proxy:")
        address = config.extra.get("proxy_address")
        if address is None and config.proxy is None:
            lines.append("    Not Configured")
        else:
            port = config.extra.get("proxy_port")
            lines += [
                f"    Address: {address or '<empty>'}",
                f"    Port: {'<empty>' if port is None else port}",
                "    Username: <empty>",
                "    Password: <empty>",
            ]
        check = bool(config.extra.get("server_identity_check", True))
        lines.append(f"  Server Identity Check: {check}")
    lines.append(f"  VRF: {config.vrf or '<empty>'}")
    return lines


def show_call_home_smart_licensing(agent: Agent) -> str:
    """``show call-home smart-licensing``: the Call Home profile ``transport callhome`` uses.

    Messages are ``enabled`` only while the transport is ``callhome``; the profile is always
    ``CiscoTAC-1`` (ACTIVE) and its destination is the agent's ``callhome_url``.
    """
    config = agent.config
    enabled = "enabled" if config.transport == "callhome" else "disabled"
    return _text(
        [
            "Current smart-licensing transport settings:",
            f" Smart-license messages: {enabled}",
            f" Profile: {CALLHOME_PROFILE} (status: ACTIVE)",
            f" Destination  URL(s):  {config.callhome_url}",
        ]
    )


def reporting_lines(agent: Agent) -> list[str]:
    """``Usage Reporting:`` from the agent's :meth:`usage_reporting` (one source of truth)."""
    return agent.usage_reporting().lines()


def trust_times(agent: Agent) -> list[tuple[str, Udi, int | None]]:
    """(role, UDI, installed at) per member of the HA set, Active first."""
    return [(e.role, e.udi, e.installed_at) for e in agent.trust_status()]


def trust_lines(agent: Agent, *, per_member: bool) -> list[str]:
    entries = trust_times(agent)
    if not per_member or len(entries) == 1:
        return [f"Trust Code Installed: {device_time(entries[0][2])}"]
    lines = ["Trust Code Installed:"]
    for role, udi, installed_at in entries:
        lines.append(f"  {role}: {_udi_line(udi)}")
        if installed_at is not None:
            lines.append(f"    INSTALLED on {device_time(installed_at)}")
        else:
            lines.append("    NOT INSTALLED")
    return lines


def status_body(agent: Agent) -> list[str]:
    """The blocks ``show license status`` prints (and ``all``/``tech support`` repeat)."""
    custom_id = agent.config.extra.get("custom_id") or "<empty>"
    return [
        "Utility:",
        f"  Status: {'ENABLED' if agent.config.extra.get('utility') else 'DISABLED'}",
        "",
        "Smart Licensing Using Policy:",
        "  Status: ENABLED",
        "",
        *account_lines(agent),
        "",
        *privacy_lines(agent),
        "",
        *transport_lines(agent),
        "",
        *agent.status().policy_lines,
        "",
        "Miscellaneous:",
        f"  Custom Id: {custom_id}",
        "",
        *reporting_lines(agent),
        "",
    ]


def show_status(agent: Agent) -> str:
    return _text([*status_body(agent), *trust_lines(agent, per_member=True)])


# --- usage -----------------------------------------------------------------------------------


def _license(agent: Agent, use: LicenseUse) -> License:
    return agent.catalog.get(use.name)


def export_status(lic: License, use: LicenseUse) -> str:
    if lic.enforcement is not EnforcementType.EXPORT_CONTROLLED:
        return "NOT RESTRICTED"
    return "RESTRICTED - NOT ALLOWED" if use.status == "NOT AUTHORIZED" else "RESTRICTED - ALLOWED"


def usage_block(agent: Agent, use: LicenseUse) -> list[str]:
    lic = _license(agent, use)
    return [
        f"{use.name} ({use.display_name}):",
        f"  Description: {lic.description}",
        f"  Count: {use.count}",
        f"  Version: {lic.version}",
        f"  Status: {use.status}",
        f"  Export status: {export_status(lic, use)}",
        f"  Feature Name: {use.name}",
        f"  Feature Description: {lic.description}",
        f"  Enforcement type: {lic.enforcement.display}",
        f"  License type: {lic.duration.display}",
    ]


def authorization_status(agent: Agent) -> str:
    uses = agent.licenses_in_use()
    needing = [u for u in uses if _license(agent, u).needs_authorization]
    if not needing:
        return "Not Applicable"
    if any(u.status == "NOT AUTHORIZED" for u in needing):
        return "NOT AUTHORIZED"
    return "AUTHORIZED"


def show_usage(agent: Agent) -> str:
    lines = ["License Authorization:", f"  Status: {authorization_status(agent)}", ""]
    for use in agent.licenses_in_use():
        lines += [*usage_block(agent, use), ""]
    return _text(lines)


def show_summary(agent: Agent) -> str:
    smart, virtual, _ = account(agent)
    lines = [
        "Account Information:",
        f"  Smart Account: {smart}",
        f"  Virtual Account: {virtual}",
        "",
        "License Usage:",
        "  License                 Entitlement Tag               Count Status",
        "  " + "-" * 77,
    ]
    for use in agent.licenses_in_use():
        paren = f"({_license(agent, use).summary_entitlement()})"
        lines.append(f"  {use.name:<23} {paren:<28}{use.count:>7} {use.status}")
    return _text(lines)


# --- udi, eventlog, rum ----------------------------------------------------------------------


def udi_lines(agent: Agent) -> list[str]:
    ha = _ha(agent)
    lines = [f"UDI: {_udi_line(agent.udi)}"]
    if len(ha.members) > 1:
        lines += ["", "HA UDI List:"]
        lines += [f"    {m.role}:{_udi_line(m.udi)}" for m in ha.members]
    return lines


def show_udi(agent: Agent) -> str:
    return _text(udi_lines(agent))


def show_eventlog(agent: Agent, days: int | None = None) -> str:
    entries = agent.eventlog(days)
    if not entries:
        return _text(["**** Event Log ****", "No EventLog Found."])
    return _text(["**** Event Log ****", "", *(e.line for e in entries)])


def show_rum_all(agent: Agent, feature: str | None = None) -> str:
    lines = [
        "Smart Licensing Usage Report:",
        "====================================",
        "Report Id,          State,    Flag, Feature Name",
    ]
    for info in agent.reports():
        if feature is not None and info.license != feature:
            continue
        flag = "N"
        lines.append(f"{info.report_id:<20}{info.state:<10}{flag:<6}{info.license}")
    return _text(lines)


STATE_REASON = {
    "OPEN": "None",
    "CLOSED": "REPORTING",
    "ACK": "ACKED",
}


def rum_detail_lines(agent: Agent, report_id: int) -> list[str] | None:
    info = agent.report(report_id)
    if info is None:
        return None
    tag = agent.catalog.get(info.license).entitlement_tag
    reason = info.close_reason or STATE_REASON.get(info.state, "None")
    if info.state == "ACK":
        reason = "ACKED"
    return [
        f"Report Id: {info.report_id}",
        "  Metric Name: ENTITLEMENT",
        f"  Feature Name: {info.license}",
        f"  Metric Value: {tag}",
        f"  UDI: {_udi_line(agent.udi)}",
        f"  Previous Report Id: {info.previous_report_id},    "
        f"Next Report Id: {info.next_report_id}",
        f"  State: {info.state},      State Change Reason: {reason}",
        f"  Start Time: {device_time(info.start_time)},      "
        f"End Time: {device_time(info.end_time)}",
        f"  Storage State: {info.storage}",
        f"  Transaction ID: {info.ack_id or 0}",
        f"  Transaction Message: {'<none>' if info.acked_at is None else 'ACK received'}",
    ]


def show_rum_detail(agent: Agent, report_ids: list[int]) -> str:
    lines = ["Smart Licensing Usage Report Detail:", "===================================="]
    for report_id in report_ids:
        block = rum_detail_lines(agent, report_id)
        if block is not None:
            lines += [*block, ""]
    return _text(lines)


# --- history ---------------------------------------------------------------------------------


def _response_status(response: str) -> str:
    try:
        status = json.loads(response).get("status")
    except (ValueError, AttributeError):
        return "UNREADABLE"
    return str(status or "UNKNOWN")


def _short(text: str, limit: int = 200) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 3] + "..."


def show_history(agent: Agent) -> str:
    records = {r.operation: r for r in agent.message_history()}
    lines = ["Message History (oldest to newest):", "=" * 52]
    for heading, operations in HISTORY_OPERATIONS:
        lines.append(f"{heading}:")
        found = sorted((records[op] for op in operations if op in records), key=lambda r: r.at)
        if not found:
            lines.append("  No past history")
            continue
        last = found[-1]
        lines += [
            f"  Response status {_response_status(last.response)}",
            f"  Time: {device_time(last.at)}",
            f"  Request: {_short(last.request)}",
            f"  Response: {_short(last.response)}",
        ]
    imports = _imports(agent)
    lines += ["", "Import Message History (oldest to newest):", "=" * 52]
    for name in ("POLICY", "AUTH", "TRUST CODE", "RUM ACK", "CONVERSION ACK", "ACCOUNT INFO"):
        lines.append(f"Import {name}:")
        when = imports.get(name)
        if when is None:
            lines.append("  No past Import history")
        else:
            lines += ["  Imported", f"  Time: {eventlog_time(when)}"]
        lines.append("")
    return _text(lines[:-1])


IMPORT_LABELS = {
    "policy": "POLICY",
    "authorization code": "AUTH",
    "trust code": "TRUST CODE",
    "ACK": "RUM ACK",
}


def _imports(agent: Agent) -> dict[str, int]:
    """When each kind of file was last imported, from the ``SAEVT_IMPORT`` event lines."""
    found: dict[str, int] = {}
    for entry in agent.eventlog():
        if " SAEVT_IMPORT " not in entry.line:
            continue
        installed = entry.line.split('installed="', 1)[-1].rstrip('"')
        for label in installed.split(","):
            for key, name in IMPORT_LABELS.items():
                if label.strip().lower().startswith(key.lower()):
                    found[name] = entry.at_ms
    return found


# --- authorization, reservation, conversion --------------------------------------------------


def authorization_lines(agent: Agent) -> list[str]:
    lines = ["Overall status:"]
    entries = [
        (e.role, e.udi, e.installed_at, e.confirmation_code) for e in agent.authorization_status()
    ]
    for role, udi, installed_at, confirmation in entries:
        lines.append(f"  {role}: {_udi_line(udi)}")
        if installed_at is None:
            lines.append("      Status: NOT INSTALLED")
            continue
        lines.append(f"      Status: SMART AUTHORIZATION INSTALLED on {device_time(installed_at)}")
        lines.append(f"      Last Confirmation code: {confirmation}")
    lines.append("")
    all_codes = agent.authorization_codes()
    if all_codes:
        lines.append("Authorizations:")
        for code in all_codes:
            for lic in code.licenses:
                entry = (
                    agent.catalog.get(lic.license_name)
                    if lic.license_name in agent.catalog
                    else None
                )
                lines += [
                    f"  {lic.license_name} ({entry.display_name if entry else lic.license_name}):",
                    f"    Description: {entry.description if entry else lic.license_name}",
                    f"    Total available count: {lic.count}",
                    f"    Enforcement type: {_enforcement_display(lic.enforcement)}",
                    "    Term information:",
                    f"      Active: {_udi_line(agent.udi)}",
                    "        Authorization type: SMART AUTHORIZATION INSTALLED",
                    f"        License type: {_duration(entry)}",
                    f"          Term Count: {lic.count}",
                ]
        lines.append("")
    lines += ["Purchased Licenses:", "  No Purchase Information Available"]
    return lines


def _enforcement_display(value: str) -> str:
    try:
        return EnforcementType(value).display
    except ValueError:
        return value.upper()


def _duration(entry: License | None) -> str:
    return (entry.duration if entry else Duration.PERPETUAL).display.upper()


def show_authorization(agent: Agent) -> str:
    return _text(authorization_lines(agent))


def show_reservation(agent: Agent) -> str:
    lines = ["License reservation: DISABLED", "", "Overall status:"]
    for member in _ha(agent).members:
        lines += [
            f"  {member.role}: {_udi_line(member.udi)}",
            "    Reservation status: NOT INSTALLED",
            "    Request code: <none>",
            "    Last return code: <none>",
            "    Last Confirmation code: <none>",
            "    Reservation authorization code: <none>",
        ]
    lines += [
        "",
        "Specified license reservations:",
        "",
        "Purchased Licenses:",
        "  No Purchase Information Available",
    ]
    return _text(lines)


def show_data_conversion(agent: Agent) -> str:
    lines = ["License Conversion:", "  Automatic Conversion Enabled: False", ""]
    for member in _ha(agent).members:
        lines += [
            f"{member.role}: {_udi_line(member.udi)}",
            "  Conversion status: NOT STARTED",
        ]
    return _text(lines)


def show_rum_feature(agent: Agent, feature: str | None, detail: bool) -> str:
    if not detail:
        return show_rum_all(agent, feature)
    ids = [r.report_id for r in agent.reports() if feature is None or r.license == feature]
    return show_rum_detail(agent, ids)


# --- all and tech support --------------------------------------------------------------------


def conversion_lines() -> list[str]:
    return [
        "Smart Licensing is ENABLED",
        "",
        "License Conversion:",
        "  Automatic Conversion Enabled: False",
        "  Last Data Push: <none>",
        "  Last File Export: <none>",
        "",
        "Export Authorization Key:",
        "  Features Authorized:",
        "    <none>",
        "",
    ]


def summary_lines(agent: Agent) -> list[str]:
    return agent.usage_summary().lines()


def short_summary_lines(agent: Agent) -> list[str]:
    s = agent.usage_summary()
    return [
        "Usage Report Summary:",
        "=====================",
        f"Total: {s.total},  Purged: {s.purged}",
        f"Total Acknowledged Received: {s.acknowledged},  Waiting for Ack: {s.waiting_for_ack}",
        f"Available to Report: {s.available_to_report}  Collecting Data: {s.collecting}",
    ]


def show_all(agent: Agent) -> str:
    lines = [
        "Smart Licensing Status",
        "======================",
        "",
        *conversion_lines(),
        *status_body(agent),
        *trust_lines(agent, per_member=True),
        "",
        "License Usage",
        "=============",
    ]
    for use in agent.licenses_in_use():
        lines += [*usage_block(agent, use), ""]
    lines += [
        "Product Information",
        "===================",
        *udi_lines(agent),
        "",
        "Agent Version",
        "=============",
        f"Smart Agent for Licensing: {agent_version()}",
        "",
        "License Authorizations",
        "======================",
        *authorization_lines(agent),
        "",
        *short_summary_lines(agent),
        "",
        "Device Telemetry Report Summary:",
        "================================",
        "Data Channel: AVAILABLE",
        "Reports on disk: 0",
    ]
    return _text(lines)


def scheduled_lines(agent: Agent) -> list[str]:
    """``Upcoming Scheduled Jobs``: the agent's :meth:`scheduled_job_lines` (one renderer)."""
    return agent.scheduled_job_lines()


def comm_lines(agent: Agent) -> list[str]:
    stats = {s.operation: s for s in agent.comm_stats()}
    transport = agent.config.effective_transport()
    level = {"smart": "DIRECT", "cslu": "INDIRECT"}.get(transport, "NONE")
    lines = [
        "Communication Statistics:",
        "=======================",
        f"Communication Level Allowed: {level}",
        "Overall State: <empty>",
    ]
    failed = agent.communication_failure()
    for heading, operations in STAT_OPERATIONS:
        found = [stats[op] for op in operations if op in stats]
        total = sum(s.attempts for s in found)
        success = sum(s.success for s in found)
        fail = sum(s.fail for s in found)
        last = max(found, key=lambda s: s.last_at or 0) if found else None
        response = "<none>"
        if last is not None and last.last_at is not None:
            response = (
                f"{_response_status(last.last_response or '')} on {device_time(last.last_at)}"
            )
        ongoing = 1 if failed and last is not None and last.fail and not last.success else 0
        lines += [
            f"{heading}:",
            f"  Attempts: Total={total}, Success={success}, Fail={fail}  "
            f"Ongoing Failure: Overall={ongoing} Communication={ongoing}",
            f"  Last Response: {response}",
            "    Failure Reason: <none>",
            f"  Last Success Time: {device_time(last.last_at if last and success else None)}",
            f"  Last Failure Time: {device_time(last.last_at if last and fail else None)}",
        ]
    return lines


def handle_lines(agent: Agent) -> list[str]:
    lines = ["License Usage", "============="]
    for index, use in enumerate(agent.licenses_in_use(), start=1):
        lic = _license(agent, use)
        report = use.open_report
        previous = 0
        if report is not None:
            info = agent.report(report)
            previous = info.previous_report_id if info is not None else 0
        lines += [
            f"Handle: {index}",
            f"  License: {use.name}",
            f"  Entitlement Tag: {use.entitlement_tag}",
            f"  Description: {lic.description}",
            f"  Count: {use.count}",
            f"  Version: {lic.version}",
            f"  Status: {use.status}({15 if use.status == 'IN USE' else 0})",
            f"  Status time: {device_time(use.since)}",
            f"  Request Time: {device_time(use.since)}",
            f"  Export status: {export_status(lic, use)}",
            f"  Feature Name: {use.name}",
            f"  Feature Description: {lic.description}",
            f"  Enforcement type: {lic.enforcement.display}",
            f"  License type: {lic.duration.display}",
            "  Measurements:",
            "    ENTITLEMENT:",
            "      Interval: 00:15:00",
            f"      Current Value: {use.count}",
            f"      Current Report: {report or 0}       Previous: {previous}",
            f"  Soft Enforced: {not lic.needs_authorization}",
        ]
    return lines


def other_info_lines(agent: Agent, facts: Facts) -> list[str]:
    config = agent.config
    trust = agent.trust_info()
    software_id = agent.catalog.platform.software_id
    state = "authorized" if trust.installed else "unidentified"
    trusted = "Trust Data INSTALLED" if trust.installed else "NOT INSTALLED"
    trust_id = trust.serial if trust.serial is not None else 0
    default_url = config.endpoint_url() or config.cslu_url
    events = agent.eventlog()
    size_kb = max(1, sum(len(e.line) + 1 for e in events) // 1024)
    udi = agent.udi
    return [
        "Other Info",
        "==========",
        f"Software ID: {software_id}",
        f"Agent State: {state}",
        "TS enable: True",
        f"Transport: {transport_type(agent)}",
        f"  Default URL: {default_url}",
        "Locale: en_US.UTF-8",
        "Debug flags: 0x0",
        f"Privacy Send Hostname: {not config.privacy_hostname}",
        "Privacy Send IP: True",
        "Build type:: Production",
        "sizeof(char)  : 1",
        "sizeof(int)   : 4",
        "sizeof(long)  : 8",
        "sizeof(char *): 8",
        "sizeof(time_t): 8",
        "sizeof(size_t): 8",
        "Endian: Little",
        "Write Erase Occurred: False",
        "XOS version: 0.12.0.0",
        "Config Persist Received: True",
        "Message Version: 1.3",
        f"connect_info.name: {'SSM' if config.effective_transport() == 'smart' else 'CSLU'}",
        "connect_info.version: 1.3",
        "connect_info.additional: ",
        "connect_info.prod: True",
        "connect_info.capabilities: DLC, AppHA, EXPORT_2, POLICY_USAGE, UTILITY",
        "agent.capabilities: UTILITY, DLC, AppHA, MULTITIER, EXPORT_2, OK_TRY_AGAIN, POLICY_USAGE",
        "Check Point Interface: True",
        "Config Management Interface: False",
        "License Map Interface: True",
        "HA Interface: True",
        "Trusted Store Interface: True",
        "Platform Data Interface: True",
        "Crypto Version 2 Interface: False",
        "SAPluginMgmtInterfaceMutex: True",
        "SAPluginMgmtIPDomainName: True",
        "SmartTransportVRFSupport: True",
        "SmartAgentClientWaitForServer: 2000",
        "SmartAgentCmReTrySend: True",
        "SmartAgentClientIsUnified: True",
        "SmartAgentCmClient: True",
        "SmartAgentClientName: UnifiedClient",
        "builtInEncryption: True",
        "enableOnInit: True",
        "routingReadyByEvent: True",
        "systemInitByEvent: True",
        f"SmartTransportServerIdCheck: {bool(config.extra.get('server_identity_check', True))}",
        "SmartTransportProxySupport: True",
        "SmartAgentSLACReturnForcedAllowed: False",
        "SmartAgentComplianceStatus: False",
        "SmartAgentTelemetryRumReportMax: 600",
        "SmartAgentRumTelemetryRumStoreMin: 500",
        "SmartAgentPolicyDisplayFormat: 0",
        "SmartAgentReportOnUpgrade: False",
        "SmartAgentIndividualRUMEncrypt: 2",
        f"SmartAgentMaxRumMemory: {agent.max_stored}",
        "SmartAgentConcurrentThreadMax: 10",
        "SmartAgentPolicyControllerModel: False",
        "SmartAgentDisableCacheSWID: False",
        "SmartAgentPolicyModel: True",
        "SmartAgentFederalLicense: True",
        "SmartAgentMultiTenant: False",
        "attr365DayEvalSyslog: True",
        "checkPointWriteOnly: False",
        "SmartAgentDelayCertValidation: False",
        "enableByDefault: False",
        "conversionAutomatic: False",
        "conversionAllowed: False",
        "storageEncryptDisable: False",
        "storageLoadUnencryptedDisable: False",
        "TSPluginDisable: False",
        "bypassUDICheck: False",
        "loggingAddTStamp: False",
        "loggingAddTid: True",
        "HighAvailabilityOverrideEvent: UnknownPlatformEvent",
        "platformIndependentOverrideEvent: UnknownPlatformEvent",
        "platformOverrideEvent: SmartAgentSystemDataListChanged",
        "WaitForHaRole: False",
        "standbyIsHot: True",
        "chkPtType: 2",
        "delayCommInit: False",
        "roleByEvent: True",
        "maxTraceLength: 150",
        "traceAlwaysOn: True",
        "debugFlags: 0",
        "Event log max size: 5120 KB",
        f"Event log current size: {size_kb} KB",
        f"Local Device: P:{udi.pid},S:{udi.sn}, state[2], {trusted}  TrustId:{trust_id}",
        f"Overall Trust: {'INSTALLED (2)' if trust.installed else 'NOT INSTALLED (0)'}",
        f"Clock sync-ed with NTP: {facts.ntp}",
    ]


def show_tech_support(agent: Agent, facts: Facts) -> str:
    ha = _ha(agent)
    role = "Active"
    lines = [
        "Smart Licensing Tech Support info",
        "",
        "Smart Licensing Status",
        "======================",
        "",
        *conversion_lines(),
        *status_body(agent),
        *trust_lines(agent, per_member=False),
        "",
        *handle_lines(agent),
        "",
        "Product Information",
        "===================",
        *udi_lines(agent),
        "",
        "Agent Version",
        "=============",
        f"Smart Agent for Licensing: {agent_version()}",
        "",
        *scheduled_lines(agent),
        "",
        *comm_lines(agent),
        "",
        "License Certificates",
        "====================",
        "Production Cert: True",
        "Not registered. No certificates installed",
        "",
        "HA Info",
        "==========",
        f"RP Role: {role}",
        f"Chassis Role: {role}",
        f"Behavior Role: {role}",
        "RMF: True",
        "CF: True",
        f"CF State: {'Stateful' if len(ha.members) > 1 else 'Stateless'}",
        "Message Flow Allowed: True",
        "",
        "Reservation Info",
        "================",
        "License reservation: DISABLED",
        "Last Data Push: <none>",
        "Last File Export: <none>",
        "",
        "Overall status:",
    ]
    for member in ha.members:
        lines += [
            f"  {member.role}: {_udi_line(member.udi)}",
            "    Reservation status: NOT INSTALLED",
            "    Request code: <none>",
            "    Last return code: <none>",
            "    Last Confirmation code: <none>",
            "    Reservation authorization code: <none>",
        ]
    lines += [
        "",
        "Specified license reservations:",
        "",
        "Purchased Licenses:",
        "  No Purchase Information Available",
        "",
        *summary_lines(agent),
        "",
        "Device Telemetry Report Summary:",
        "================================",
        "Data Channel: AVAILABLE",
        "Reports on disk: 0",
        "",
        *other_info_lines(agent, facts),
        "",
        "Platform Provided Mapping Table",
        "===============================",
        f"  {agent.udi.pid}: Total licenses found: {len(agent.catalog)}",
        "Enforced Licenses:",
        f"  P:{agent.udi.pid},S:{agent.udi.sn}:",
    ]
    for lic in agent.catalog:
        if lic.enforcement is EnforcementType.EXPORT_CONTROLLED:
            lines.append(f"    {lic.name}: {lic.entitlement_tag} (0)")
    return _text(lines)
