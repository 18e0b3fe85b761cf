"""The commands of each mode, wired to the agent (reference §7.1–7.3, clients.md §1.5)."""

from __future__ import annotations

import calendar
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smartlic.core.errors import ConfigurationError, NotFoundError
from smartlic.core.timefmt import device_time
from smartlic.instance.base import DEFAULT_CSLU_URL, DEFAULT_SMART_URL, Config
from smartlic.instance.shell import render
from smartlic.instance.shell.tree import Tree

if TYPE_CHECKING:
    from smartlic.instance.shell.session import Session

HELPS = {
    "show": "Show running system information",
    "license": "Smart licensing commands",
    "enable": "Turn on privileged commands",
    "disable": "Turn off privileged commands",
    "exit": "Exit from the EXEC",
    "logout": "Exit from the EXEC",
    "end": "Exit from configure mode",
    "terminal": "Set terminal line parameters",
    "length": "Set number of lines on a screen",
    "width": "Set width of the display terminal",
    "configure": "Enter configuration mode",
    "clock": "Manage the system clock",
    "set": "Set the time and date",
    "version": "System hardware and software status",
    "running-config": "Current operating configuration",
    "startup-config": "Contents of startup configuration",
    "logging": "Show the contents of logging buffers",
    "write": "Write running configuration to memory, network, or terminal",
    "memory": "Write to NV memory",
    "copy": "Copy from one file to another",
    "smart": "Smart licensing",
    "status": "Show license status information",
    "summary": "Show license summary",
    "usage": "Show license usage information",
    "all": "Show all license information",
    "udi": "Show license UDI information",
    "tech": "Show license tech support information",
    "support": "Show license tech support information",
    "eventlog": "Show license event log",
    "rum": "Show RUM reports",
    "id": "RUM report id",
    "detail": "Detailed information",
    "feature": "Feature name",
    "history": "Show license history",
    "message": "Show message history",
    "authorization": "Authorization codes",
    "reservation": "Show license reservation information",
    "data": "Show license data",
    "conversion": "Show license conversion information",
    "sync": "Synchronize with CSSM, CSLU or SSM On-Prem",
    "save": "Save license information to a file",
    "import": "Import a file (ACK, policy, authorization code, trust code)",
    "trust": "Trust code",
    "idtoken": "Establish trust with an ID token",
    "trust-request": "Save a trust code request",
    "clear": "Clear license information",
    "factory": "Factory reset",
    "reset": "Remove all licensing data",
    "transport": "Configure the transport",
    "url": "Configure the URL",
    "interval": "Reporting interval in days",
    "customer-tags": "Customer tags for RUM reports",
    "privacy": "Privacy settings",
    "proxy": "Proxy settings",
    "vrf": "VRF for licensing traffic",
    "server-identity-check": "Verify the server's identity",
    "utility": "Utility (MSLA) settings",
    "boot": "License boot configuration",
    "level": "Set the license boot level",
    "addon": "Add-on license",
    "no": "Negate a command or set its defaults",
    "hostname": "Set system's network name",
    "line": "Configure a terminal line",
    "do": "To run exec commands in config mode",
    "local": "This device only",
    "file": "File to save to",
    "unreported": "Reports not yet sent",
    "day": "Reports from the last n days",
    "days": "Reports from the last n days",
    "rum-Id": "One RUM report",
    "install": "Install information",
    "<days>": "Number of days",
    "<path>": "File path, e.g. flash:usage.txt",
    "<url>": "URL",
    "<token>": "ID token",
    "<feature>": "License name",
    "<report>": "RUM report id",
    "<count>": "Number of lines",
    "<text>": "Text",
    "<value>": "Value",
    "call-home": "Show command for call home",
    "smart-licensing": "Smart licensing transport settings",
    "callhome": "Use Call Home for communication (legacy)",
    "automatic": "Choose cslu or smart automatically",
}

FILESYSTEMS = ("flash", "bootflash", "harddisk", "usbflash0", "nvram", "crashinfo")
MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}


# --- helpers ---------------------------------------------------------------------------------


def device_path(session: Session, path: str) -> Path:
    """``flash:usage.txt`` → ``<state>/flash/usage.txt``. Files stay in the state folder."""
    fs, sep, name = path.partition(":")
    if not sep or fs.lower() not in FILESYSTEMS:
        raise ConfigurationError(
            f"invalid file system in {path!r}",
            hint=f"Use one of {', '.join(f + ':' for f in FILESYSTEMS)}, e.g. flash:usage.txt",
        )
    name = name.lstrip("/")
    parts = [p for p in name.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise ConfigurationError(f"invalid file name in {path!r}")
    folder = session.device.folder / fs.lower()
    folder.mkdir(exist_ok=True)
    target = folder.joinpath(*parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _configure(session: Session, **changes: Any) -> None:
    session.agent.configure(**changes)


def _extra(session: Session, **changes: Any) -> None:
    extra = dict(session.agent.config.extra)
    for key, value in changes.items():
        if value is None:
            extra.pop(key, None)
        else:
            extra[key] = value
    session.agent.configure(extra=extra)


def _proxy(session: Session) -> None:
    extra = session.agent.config.extra
    address, port = extra.get("proxy_address"), extra.get("proxy_port")
    proxy = None if address is None else f"http://{address}:{port or 80}"
    session.agent.configure(proxy=proxy)


# --- exec: modes and terminal ----------------------------------------------------------------


def enable(session: Session) -> str:
    if session.device.enable_secret is None:
        session.mode = "exec"
        return ""
    session.awaiting_password = True
    return ""


def disable(session: Session) -> str:
    session.mode = "user"
    return ""


def exit_exec(session: Session) -> str:
    session.closed = True
    return ""


def configure(session: Session) -> str:
    session.mode = "config"
    return "Enter configuration commands, one per line.  End with CNTL/Z.\n"


def end(session: Session) -> str:
    session.mode = "exec"
    return ""


def exit_config(session: Session) -> str:
    session.mode = "config" if session.mode == "config-line" else "exec"
    return ""


def terminal_length(session: Session, count: int) -> str:
    session.length = count
    return ""


def terminal_width(session: Session, count: int) -> str:
    session.width = count
    return ""


# --- exec: system ----------------------------------------------------------------------------


def show_clock(session: Session) -> str:
    now_ms = session.agent.clock.now_ms()
    stamp = time.strftime("%H:%M:%S", time.gmtime(now_ms // 1000))
    day = time.strftime("%a %b %d %Y", time.gmtime(now_ms // 1000))
    mark = "" if session.device.facts.ntp else "*"
    return f"{mark}{stamp}.{now_ms % 1000:03d} UTC {day}\n"


def clock_set(session: Session, text: str) -> str:
    words = text.split()
    if len(words) != 4 or not re.fullmatch(r"\d{1,2}:\d{2}:\d{2}", words[0]):
        raise ConfigurationError(
            "clock set needs hh:mm:ss day month year, e.g. clock set 12:00:00 14 Nov 2023"
        )
    hh, mm, ss = (int(x) for x in words[0].split(":"))
    first, second, year_text = words[1], words[2], words[3]
    if first.isdigit():
        day_text, month_text = first, second
    else:
        month_text, day_text = first, second
    month = next((n for name, n in MONTHS.items() if month_text.lower().startswith(name)), 0)
    if not (month and day_text.isdigit() and year_text.isdigit()):
        raise ConfigurationError(f"cannot read the date {' '.join(words[1:])!r}")
    try:
        epoch = calendar.timegm((int(year_text), month, int(day_text), hh, mm, ss, 0, 0, 0))
        time.gmtime(epoch)
    except (ValueError, OverflowError):
        raise ConfigurationError("invalid date or time") from None
    if not (0 <= hh < 24 and 0 <= mm < 60 and 0 <= ss < 60 and 1 <= int(day_text) <= 31):
        raise ConfigurationError("invalid date or time")
    session.agent.set_clock(epoch)
    return ""


def show_version(session: Session) -> str:
    agent = session.agent
    version = agent.identity.software_version
    short = ".".join(str(int(p)) for p in version.split(".")[:3] if p.isdigit()) or version
    started = agent.started_at()
    up = max(0, agent.clock.now() - started)
    days, rest = divmod(up, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    host = session.device.hostname
    return "".join(
        line + "\n"
        for line in [
            f"Cisco IOS XE Software, Version {version}",
            f"Cisco IOS Software [smartlic], Catalyst L3 Switch Software (CAT9K_IOSXE), "
            f"Version {short}, RELEASE SOFTWARE (smartlic emulation)",
            "Technical Support: http://www.cisco.com/techsupport",
            "",
            "Cisco IOS-XE software, emulated by smartlic (Smart Licensing Using Policy).",
            "",
            "ROM: IOS-XE ROMMON",
            f"{host} uptime is {days} days, {hours} hours, {minutes} minutes",
            "System returned to ROM by Reload Command",
            "",
            "This product contains cryptographic features; see the license of smartlic.",
            "",
            "Technology Package License Information:",
            "",
            "------------------------------------------------------------------------------",
            "Technology-package                                     Technology-package",
            "Current                        Type                       Next reboot",
            "------------------------------------------------------------------------------",
            *_technology_lines(session),
            "",
            "Smart Licensing Status: Smart Licensing Using Policy",
            "",
            f"cisco {agent.udi.pid} (X86) processor with 1333610K/6147K bytes of memory.",
            f"Processor board ID {agent.udi.sn}",
            "",
            "Configuration register is 0x102",
        ]
    )


def _technology_lines(session: Session) -> list[str]:
    lines = []
    for name in session.device.boot_level or []:
        if name == "addon":
            continue
        kind = "Smart License" if name.startswith("network") else "Subscription Smart License"
        lines.append(f"{name:<31}{kind:<27}{name}")
    return lines or ["None                           None                       None"]


def show_install_summary(session: Session) -> str:
    version = session.agent.identity.software_version
    return (
        "[ Switch 1 ] Installed Package(s) Information:\n"
        "State (St): I - Inactive, U - Activated & Uncommitted,\n"
        "            C - Activated & Committed, D - Deactivated & Uncommitted\n"
        + "-" * 80
        + "\nType  St   Filename/Version\n"
        + "-" * 80
        + f"\nIMG   C    {version}.0\n\n"
        + "-" * 80
        + "\nAuto abort timer: inactive\n"
        + "-" * 80
        + "\n\n"
    )


def running_config_lines(session: Session) -> list[str]:
    device = session.device
    config = session.agent.config
    default = Config()
    lines = [
        "version " + ".".join(session.agent.identity.software_version.split(".")[:2]),
        "service timestamps debug datetime msec",
        "service timestamps log datetime msec",
        "!",
        f"hostname {device.hostname}",
        "!",
    ]
    if not device.logging_console:
        lines.append("no logging console")
    lines += list(device.other_lines)
    if device.boot_level:
        lines.append("license boot level " + " ".join(device.boot_level))
    lines += [f"license feature {name}" for name in device.features]
    extra = config.extra
    if config.transport != default.transport:
        lines.append(f"license smart transport {config.transport}")
    if config.cslu_url != DEFAULT_CSLU_URL:
        lines.append(f"license smart url cslu {config.cslu_url}")
    if config.smart_url != DEFAULT_SMART_URL:
        lines.append(f"license smart url smart {config.smart_url}")
    if extra.get("utility_url"):
        lines.append(f"license smart url utility {extra['utility_url']}")
    if config.usage_interval_days != default.usage_interval_days:
        lines.append(f"license smart usage interval {config.usage_interval_days}")
    for index, tag in sorted(extra.get("customer_tags", {}).items()):
        lines.append(f"license smart usage customer-tags tag{index} {tag}")
    if config.privacy_hostname and config.privacy_version:
        lines.append("license smart privacy all")
    elif config.privacy_hostname:
        lines.append("license smart privacy hostname")
    elif config.privacy_version:
        lines.append("license smart privacy version")
    if extra.get("proxy_address"):
        lines.append(f"license smart proxy address {extra['proxy_address']}")
    if extra.get("proxy_port"):
        lines.append(f"license smart proxy port {extra['proxy_port']}")
    if config.vrf:
        lines.append(f"license smart vrf {config.vrf}")
    if extra.get("server_identity_check") is False:
        lines.append("no license smart server-identity-check")
    if extra.get("utility"):
        lines.append("license smart utility")
    if extra.get("custom_id"):
        lines.append(f"license smart custom_id {extra['custom_id']}")
    lines.append("!")
    for name, sub in device.line_config.items():
        lines.append(name)
        lines += [f" {item}" for item in sub]
    lines += ["!", "end"]
    return lines


def show_running(session: Session) -> str:
    body = "".join(line + "\n" for line in running_config_lines(session))
    changed = session.device.changed_at
    head = ["Building configuration...", "", f"Current configuration : {len(body)} bytes", "!"]
    if changed is not None:
        head += [f"! Last configuration change at {device_time(changed)}", "!"]
    return "".join(line + "\n" for line in head) + body


def write_memory(session: Session) -> str:
    session.device.save()
    return "Building configuration...\n[OK]\n"


def copy_run_start(session: Session) -> str:
    session.device.save()
    return "Destination filename [startup-config]? \nBuilding configuration...\n[OK]\n"


def show_logging(session: Session) -> str:
    entries = session.agent.syslog()
    state = "enabled" if session.device.logging_console else "disabled"
    lines = [
        "Syslog logging: enabled (0 messages dropped, 0 messages rate-limited, 0 flushes, "
        "0 overruns, xml disabled, filtering disabled)",
        "",
        f"    Console logging: level debugging, {len(entries)} messages logged, xml disabled,",
        "                     filtering disabled",
        f"    Console logging: {state}",
        f"    Buffer logging:  level debugging, {len(entries)} messages logged, xml disabled,",
        "                    filtering disabled",
        "",
        "Log Buffer (102400 bytes):",
        "",
        *(e.console_line() for e in entries),
    ]
    return "".join(line + "\n" for line in lines)


# --- exec: license ---------------------------------------------------------------------------


def lic_sync(session: Session, scope: str) -> str:
    session.agent.sync(scope)  # what happened is told by the %SMART_LIC messages
    return ""


def lic_save_usage(session: Session, which: str, path: str, **args: Any) -> str:
    target = device_path(session, path)
    count = session.agent.save_usage(
        target, which, days=args.get("days"), rum_id=args.get("report")
    )
    if count == 0:
        return "% No usage to save\n"
    return ""


def lic_save_trust(session: Session, path: str) -> str:
    session.agent.save_trust_request(str(device_path(session, path)))
    return ""


def lic_import(session: Session, path: str) -> str:
    result = session.agent.import_file(device_path(session, path))
    return (
        f"Import Data Successful\n{result.summary()}\n"
        if result.installed
        else ("% Import Data failed: nothing to install\n")
    )


def lic_trust(session: Session, token: str, scope: str, force: bool = False) -> str:
    session.agent.trust_idtoken(token, scope, force)
    return ""


def lic_auth_request(session: Session, mode: str, feature: str, scope: str) -> str:
    if feature not in session.agent.catalog:
        raise NotFoundError(f"unknown license {feature!r}")
    session.agent.authorization_request(mode, feature, scope)
    return ""


def lic_auth_return(session: Session, scope: str, how: str, path: str | None = None) -> str:
    target = None if path is None else str(device_path(session, path))
    returns = session.agent.authorization_return(scope, how, target)
    if how == "offline" and target is None:
        codes = [env.to_bytes().decode() for env in returns]
        return "Return code:\n" + "".join(code + "\n" for code in codes)
    return ""


def lic_clear_eventlog(session: Session) -> str:
    session.agent.clear_eventlog()
    return ""


def not_applicable(session: Session, **args: Any) -> str:
    """Classic Smart Licensing, SLR/PLR and conversion: not part of Smart Licensing Using Policy."""
    return (
        "% This command is not applicable: Smart Licensing Using Policy is enabled "
        "(use license smart trust idtoken, sync, save usage and import)\n"
    )


def lic_factory_reset(session: Session) -> str:
    """Wipes the licensing data at once (a device asks for a reload; the agent needs none)."""
    session.agent.factory_reset()
    return ""


# --- show license ----------------------------------------------------------------------------


def show(fn: Any) -> Any:
    def action(session: Session, **args: Any) -> str:
        return str(fn(session.agent, **args))

    return action


def show_eventlog(session: Session, days: int | None = None) -> str:
    return render.show_eventlog(session.agent, days)


def show_rum_id(session: Session, report: int, detail: bool = False) -> str:
    if detail:
        return render.show_rum_detail(session.agent, [report])
    info = session.agent.report(report)
    text = render.show_rum_all(session.agent)
    lines = text.splitlines()
    keep = lines[:3] + [ln for ln in lines[3:] if info and ln.startswith(str(report))]
    return "".join(line + "\n" for line in keep)


def show_rum_feature(session: Session, feature: str | None = None, detail: bool = False) -> str:
    return render.show_rum_feature(session.agent, feature, detail)


# --- config ----------------------------------------------------------------------------------


def cfg_transport(session: Session, value: str) -> str:
    _configure(session, transport=value)
    return ""


def cfg_url(session: Session, which: str, url: str | None = None) -> str:
    if which == "default":
        _configure(session, smart_url=DEFAULT_SMART_URL)
    elif which == "cslu":
        _configure(session, cslu_url=url or DEFAULT_CSLU_URL)
    elif which == "utility":
        _extra(session, utility_url=url)
    else:
        _configure(session, smart_url=url or DEFAULT_SMART_URL)
    return ""


def cfg_interval(session: Session, days: int | None) -> str:
    _configure(session, usage_interval_days=30 if days is None else days)
    return ""


def cfg_tag(session: Session, index: int, value: str | None) -> str:
    tags = {int(k): v for k, v in session.agent.config.extra.get("customer_tags", {}).items()}
    if value is None:
        tags.pop(index, None)
    else:
        tags[index] = value
    ordered = tuple(tags[k] for k in sorted(tags))
    config = session.agent.config
    extra = dict(config.extra)
    extra["customer_tags"] = {str(k): v for k, v in sorted(tags.items())}
    session.agent.configure(customer_tags=ordered, extra=extra)
    return ""


def cfg_privacy(session: Session, what: str, on: bool) -> str:
    changes = {}
    if what in ("all", "hostname"):
        changes["privacy_hostname"] = on
    if what in ("all", "version"):
        changes["privacy_version"] = on
    _configure(session, **changes)
    return ""


def cfg_proxy_address(session: Session, address: str | None) -> str:
    _extra(session, proxy_address=address)
    _proxy(session)
    return ""


def cfg_proxy_port(session: Session, port: int | None) -> str:
    _extra(session, proxy_port=port)
    _proxy(session)
    return ""


def cfg_vrf(session: Session, name: str | None) -> str:
    _configure(session, vrf=name)
    return ""


def cfg_extra(key: str, value: Any) -> Any:
    def action(session: Session, **args: Any) -> str:
        _extra(session, **{key: args.get("value", value)})
        return ""

    return action


def cfg_boot_level(session: Session, text: str | None) -> str:
    device = session.device
    agent = session.agent
    words = [] if text is None else text.split()
    wanted: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word == "addon":
            index += 1
            continue
        if word not in agent.catalog:
            raise ConfigurationError(
                f"unknown license level {word!r}",
                hint="Levels: " + ", ".join(agent.catalog.names),
            )
        wanted.append(word)
        index += 1
    count = len(agent.identity.ha_set.members)
    previous = [w for w in device.boot_level if w != "addon"]
    for name in previous:
        if name not in wanted:
            agent.use(name, 0)
    for name in wanted:
        agent.use(name, count)
    device.boot_level = words
    return ""


def cfg_feature(session: Session, name: str, on: bool = True) -> str:
    agent = session.agent
    if name not in agent.catalog:
        raise ConfigurationError(f"unknown license {name!r}")
    device = session.device
    if on:
        agent.use(name, len(agent.identity.ha_set.members))
        if name not in device.features:
            device.features.append(name)
    else:
        agent.use(name, 0)
        if name in device.features:
            device.features.remove(name)
    return ""


def cfg_hostname(session: Session, name: str) -> str:
    session.device.hostname = name
    return ""


def cfg_logging_console(session: Session, on: bool) -> str:
    session.device.logging_console = on
    return ""


def cfg_line(session: Session, text: str) -> str:
    name = "line " + " ".join(text.split())
    session.device.line_config.setdefault(name, [])
    session.device.current_line = name
    session.mode = "config-line"
    return ""


def line_setting(session: Session, text: str) -> str:
    name = session.device.current_line
    if name is None:
        return ""
    items = session.device.line_config.setdefault(name, [])
    setting = " ".join(text.split())
    key = setting.split()[0]
    items[:] = [i for i in items if i.split()[0] != key] + [setting]
    return ""


LINE_WORDS = (
    "exec-timeout",
    "length",
    "width",
    "logging synchronous",
    "privilege",
    "transport",
    "login",
    "password",
    "stopbits",
    "speed",
    "session-timeout",
)


def accept(session: Session, **args: Any) -> str:
    return ""


# --- trees -----------------------------------------------------------------------------------


def _exec_common(tree: Tree) -> None:
    tree.add("exit", exit_exec)
    tree.add("logout", exit_exec)
    tree.add("terminal length <count:number>", terminal_length, ranges={"count": (0, 512)})
    tree.add("terminal width <count:number>", terminal_width, ranges={"count": (0, 512)})
    tree.add("show clock", show_clock)
    tree.add("show version", show_version)
    tree.add("show install summary", show_install_summary)
    tree.add("show call-home smart-licensing", show(render.show_call_home_smart_licensing))
    tree.add("show license status", show(render.show_status))
    tree.add("show license summary", show(render.show_summary))
    tree.add("show license usage", show(render.show_usage))
    tree.add("show license udi", show(render.show_udi))
    tree.add("show license all", show(render.show_all))
    tree.add("show license tech", lambda s: render.show_tech_support(s.agent, s.device.facts))
    tree.add(
        "show license tech support", lambda s: render.show_tech_support(s.agent, s.device.facts)
    )
    tree.add("show license eventlog", show_eventlog)
    tree.add("show license eventlog <days:number>", show_eventlog)
    tree.add("show license rum id all", show(render.show_rum_all))
    tree.add(
        "show license rum id all detail",
        lambda s: render.show_rum_detail(s.agent, [r.report_id for r in s.agent.reports()]),
    )
    tree.add("show license rum id <report:number>", show_rum_id)
    tree.add(
        "show license rum id <report:number> detail", lambda s, report: show_rum_id(s, report, True)
    )
    tree.add("show license rum feature all", show_rum_feature)
    tree.add("show license rum feature all detail", lambda s: show_rum_feature(s, None, True))
    tree.add("show license rum feature <feature>", show_rum_feature)
    tree.add(
        "show license rum feature <feature> detail",
        lambda s, feature: show_rum_feature(s, feature, True),
    )
    tree.add("show license history message", show(render.show_history))
    tree.add("show license authorization", show(render.show_authorization))
    tree.add("show license reservation", show(render.show_reservation))
    tree.add("show license data conversion", show(render.show_data_conversion))


def build_trees() -> dict[str, Tree]:
    user = Tree(HELPS)
    _exec_common(user)
    user.add("enable", enable)

    exe = Tree(HELPS)
    _exec_common(exe)
    exe.add("enable", lambda s: "")
    exe.add("disable", disable)
    exe.add("configure terminal", configure)
    exe.add("configure", configure)
    exe.add("clock set <text:line>", clock_set)
    exe.add("show running-config", show_running)
    exe.add("show startup-config", show_running)
    exe.add("show logging", show_logging)
    exe.add("write memory", write_memory)
    exe.add("write", write_memory)
    exe.add("copy running-config startup-config", copy_run_start)
    for scope in ("all", "local"):
        exe.add(f"license smart sync {scope}", lambda s, scope=scope: lic_sync(s, scope))
        for force in (False, True):
            spec = f"license smart trust idtoken <token> {scope}" + (" force" if force else "")
            exe.add(
                spec, lambda s, token, scope=scope, force=force: lic_trust(s, token, scope, force)
            )
        for mode in ("add", "replace"):
            exe.add(
                f"license smart authorization request {mode} <feature> {scope}",
                lambda s, feature, mode=mode, scope=scope: lic_auth_request(
                    s, mode, feature, scope
                ),
            )
        exe.add(
            f"license smart authorization return {scope} online",
            lambda s, scope=scope: lic_auth_return(s, scope, "online"),
        )
        exe.add(
            f"license smart authorization return {scope} offline",
            lambda s, scope=scope: lic_auth_return(s, scope, "offline"),
        )
        exe.add(
            f"license smart authorization return {scope} offline <path>",
            lambda s, path, scope=scope: lic_auth_return(s, scope, "offline", path),
        )
    for which in ("all", "unreported"):
        exe.add(
            f"license smart save usage {which} file <path>",
            lambda s, path, which=which: lic_save_usage(s, which, path),
        )
    for word in ("days", "day"):
        exe.add(
            f"license smart save usage {word} <days:number> file <path>",
            lambda s, days, path: lic_save_usage(s, "days", path, days=days),
        )
    exe.add(
        "license smart save usage rum-Id <report:number> file <path>",
        lambda s, report, path: lic_save_usage(s, "rum-id", path, report=report),
    )
    exe.add("license smart save trust-request <path>", lic_save_trust)
    exe.add("license smart import <path>", lic_import)
    exe.add("license smart clear eventlog", lic_clear_eventlog)
    for spec in (
        "license smart conversion start",
        "license smart conversion stop",
        "license smart register idtoken <token>",
        "license smart register idtoken <token> force",
        "license smart deregister",
        "license smart reservation <text:line>",
        "license smart export return <text:line>",
    ):
        exe.add(spec, not_applicable)
    exe.add("license smart factory reset", lic_factory_reset)

    config = Tree(HELPS)
    config.add("end", end)
    config.add("exit", exit_config)
    config.add("hostname <name>", cfg_hostname)
    config.add("logging console", lambda s: cfg_logging_console(s, True))
    config.add("logging console <level>", lambda s, level: cfg_logging_console(s, True))
    config.add("no logging console", lambda s: cfg_logging_console(s, False))
    config.add("line <text:line>", cfg_line)
    config.add("license boot level <text:line>", cfg_boot_level)
    config.add("no license boot level", lambda s: cfg_boot_level(s, None))
    config.add("no license boot level <text:line>", lambda s, text: cfg_boot_level(s, None))
    config.add("license boot mode universal", accept)
    config.add("license feature <name>", lambda s, name: cfg_feature(s, name))
    config.add("no license feature <name>", lambda s, name: cfg_feature(s, name, False))
    config.add(
        "platform <text:line>",
        lambda s, text: (s.device.other_lines.append("platform " + text), "")[1],
    )
    for value in ("cslu", "smart", "off", "callhome", "automatic"):
        config.add(
            f"license smart transport {value}", lambda s, value=value: cfg_transport(s, value)
        )
    config.add("no license smart transport", lambda s: cfg_transport(s, "cslu"))
    config.add("no license smart transport <text:line>", lambda s, text: cfg_transport(s, "cslu"))
    config.add("license smart url default", lambda s: cfg_url(s, "default"))
    for which in ("cslu", "smart", "utility"):
        config.add(
            f"license smart url {which} <url>", lambda s, url, which=which: cfg_url(s, which, url)
        )
        config.add(f"no license smart url {which}", lambda s, which=which: cfg_url(s, which))
        config.add(
            f"no license smart url {which} <url>", lambda s, url, which=which: cfg_url(s, which)
        )
    config.add("license smart url <url>", lambda s, url: cfg_url(s, "smart", url))
    config.add("no license smart url", lambda s: cfg_url(s, "smart"))
    config.add("no license smart url default", lambda s: cfg_url(s, "smart"))
    config.add(
        "license smart usage interval <days:number>",
        lambda s, days: cfg_interval(s, days),
        ranges={"days": (1, 3650)},
    )
    config.add("no license smart usage interval", lambda s: cfg_interval(s, None))
    config.add(
        "no license smart usage interval <days:number>", lambda s, days: cfg_interval(s, None)
    )
    for index in range(1, 5):
        config.add(
            f"license smart usage customer-tags tag{index} <value>",
            lambda s, value, index=index: cfg_tag(s, index, value),
        )
        config.add(
            f"no license smart usage customer-tags tag{index}",
            lambda s, index=index: cfg_tag(s, index, None),
        )
        config.add(
            f"no license smart usage customer-tags tag{index} <value>",
            lambda s, value, index=index: cfg_tag(s, index, None),
        )
    for what in ("all", "hostname", "version"):
        config.add(f"license smart privacy {what}", lambda s, what=what: cfg_privacy(s, what, True))
        config.add(
            f"no license smart privacy {what}", lambda s, what=what: cfg_privacy(s, what, False)
        )
    config.add("license smart proxy address <value>", lambda s, value: cfg_proxy_address(s, value))
    config.add("no license smart proxy address", lambda s: cfg_proxy_address(s, None))
    config.add(
        "no license smart proxy address <value>", lambda s, value: cfg_proxy_address(s, None)
    )
    config.add(
        "license smart proxy port <port:number>",
        lambda s, port: cfg_proxy_port(s, port),
        ranges={"port": (1, 65535)},
    )
    config.add("no license smart proxy port", lambda s: cfg_proxy_port(s, None))
    config.add("no license smart proxy port <port:number>", lambda s, port: cfg_proxy_port(s, None))
    config.add("license smart vrf <value>", lambda s, value: cfg_vrf(s, value))
    config.add("no license smart vrf", lambda s: cfg_vrf(s, None))
    config.add("no license smart vrf <value>", lambda s, value: cfg_vrf(s, None))
    config.add("license smart server-identity-check", cfg_extra("server_identity_check", True))
    config.add("no license smart server-identity-check", cfg_extra("server_identity_check", False))
    config.add("license smart utility", cfg_extra("utility", True))
    config.add("no license smart utility", cfg_extra("utility", None))
    for field in ("city", "country", "id", "name", "postalcode", "state", "street"):
        config.add(
            f"license smart utility customer_info {field} <value:line>",
            cfg_extra(f"customer_info_{field}", None),
        )
    config.add("license smart custom_id <value>", cfg_extra("custom_id", None))
    config.add("no license smart custom_id", cfg_extra("custom_id", None))
    config.add("license smart enable", accept)
    config.add("no license smart enable", accept)
    config.add("license smart reservation", accept)
    config.add("no license smart reservation", accept)

    line = Tree(HELPS)
    line.add("end", end)
    line.add("exit", exit_config)
    for word in LINE_WORDS:
        line.add(f"{word}", lambda s, word=word: line_setting(s, word))
        line.add(
            f"{word} <text:line>", lambda s, text, word=word: line_setting(s, f"{word} {text}")
        )
        line.add(f"no {word}", lambda s, word=word: line_setting(s, f"no {word}"))
        line.add(
            f"no {word} <text:line>",
            lambda s, text, word=word: line_setting(s, f"no {word} {text}"),
        )
    return {"user": user, "exec": exe, "config": config, "config-line": line}
