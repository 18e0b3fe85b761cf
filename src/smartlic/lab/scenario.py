"""Scenarios: YAML steps run against a lab, with expectations checked as they go.

::

    name: Connected directly to CSSM
    topology: direct          # the lab the scenario starts (lab run starts its own)
    instances: 2
    steps:
      - cli: license smart trust idtoken {id_token} local
        on: all                # all (default), a topology, a hostname or UDI, or a list
      - advance: {days: 1}     # every clock (or `on:`), running each instance's due work
      - clock: {minutes: -30}  # `clock set` on the device, relative to its clock (or `on:`)
      - utility: collect       # collect | upload | deliver | download-all FILE | upload-from FILE
        which: connected       # or disconnected (default: connected, if the lab has one)
      - authority: [usage, upload, "{dir}/usage.txt", --account, "{account}", --va, "{va}",
                    --ack, "{dir}/ack.txt"]
      - authority: [token, create, --account, "{account}", --va, Branch, --json]
        capture: {token: branch_token}   # a field of the JSON output, as {branch_token}
      - move: {from: "{flash:sw-1}/usage.txt", to: "{dir}/usage.txt"}   # across the air gap
      - tamper: {from: "{dir}/policy.xml", to: "{flash:sw-1}/bad.xml"}  # one byte changed
      - fault: utility-down    # or utility-up (`which:` as for utility steps)
      - expect: {show: show license status, contains: "Trust Code Installed"}
      - expect: {message: TRUST_INSTALL_SUCCESS}
      - expect: {output: "Invalid"}            # the previous step's output
      - expect: {state: trust_installed, equals: true}   # a field of the instance's status

Placeholders: ``{id_token}``, ``{api_token}``, ``{dir}`` (the lab folder), ``{account}``,
``{va}``, ``{authority_url}``, ``{utility_url}``, ``{disconnected_utility_url}``,
``{flash:HOST}`` (a device's ``flash:`` folder), ``{udi:HOST}``, and values captured by earlier
steps. ``fail: true`` on a step expects it to fail (``error: TEXT``: with a message holding TEXT).

A scenario runs in a lab of its own (:func:`run`) or in a running one (:func:`run_in`, behind
``smartlic lab run --lab DIR``), where ``topology`` and ``instances`` are not used: its ``on:``
names must exist in that lab.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from smartlic.core.errors import SmartLicError
from smartlic.core.timefmt import DAY
from smartlic.lab.fleet import ACCOUNT, CONNECTED, DISCONNECTED, VA, Lab, authority_cli_run

SCENARIOS = Path(__file__).parent / "scenarios"
ERRORS = ("% Error", "% Invalid", "% Incomplete", "% Ambiguous")


@dataclass
class StepResult:
    number: int
    kind: str
    detail: str
    ok: bool
    message: str = ""


@dataclass
class Report:
    name: str
    path: str
    steps: list[StepResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)

    @property
    def failed(self) -> list[StepResult]:
        return [s for s in self.steps if not s.ok]


def find(name: str) -> Path:
    """A scenario file, or a shipped scenario by name (``direct``, ``air-gapped``, ...)."""
    path = Path(name)
    if path.exists():
        return path
    shipped = SCENARIOS / f"{name.removesuffix('.yaml')}.yaml"
    if shipped.exists():
        return shipped
    raise FileNotFoundError(f"no scenario {name!r} (shipped: {', '.join(shipped_names())})")


def shipped_names() -> list[str]:
    return sorted(p.stem for p in SCENARIOS.glob("*.yaml"))


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise ValueError(f"{path}: a scenario is a mapping with a list of steps")
    data["steps"] = [_on(step) for step in data["steps"]]
    return data


def _on(value: Any) -> Any:
    """YAML 1.1 reads the key ``on`` as ``True``: give it its name back."""
    if isinstance(value, dict):
        return {("on" if key is True else key): _on(item) for key, item in value.items()}
    return value


class Runner:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.last_output = ""
        self.captured: dict[str, str] = {}

    def fill(self, text: str) -> str:
        lab = self.lab

        def one(match: re.Match[str]) -> str:
            key = match.group(1)
            if key.startswith("flash:"):
                host = lab.select(key[6:])[0]
                member = next(m for m in lab.members if m.hostname == host)
                folder = lab.folder / member.state / "flash"
                folder.mkdir(parents=True, exist_ok=True)
                return str(folder)
            if key.startswith("udi:"):
                host = lab.select(key[4:])[0]
                return next(m.udi for m in lab.members if m.hostname == host)
            values = {
                **self.captured,
                "id_token": lab.tokens["id_token"],
                "api_token": lab.tokens["api_token"],
                "dir": str(lab.folder),
                "account": ACCOUNT,
                "va": VA,
                "authority_url": lab.authority.url if lab.authority else "",
                "utility_url": (
                    f"{lab.utility_server.url}/cslu/v1/pi" if lab.utility_server else ""
                ),
                "disconnected_utility_url": (
                    lab.utility_url(DISCONNECTED) if DISCONNECTED in lab.utility_servers else ""
                ),
            }
            if key not in values:
                raise KeyError(f"unknown placeholder {{{key}}}")
            return values[key]

        return re.sub(r"\{([a-z_]+(?::[^}]+)?)\}", one, text)

    def run_step(self, step: dict[str, Any]) -> tuple[str, str]:
        """Run one step; returns (kind, detail) and leaves its output in ``last_output``."""
        lab = self.lab
        on = step.get("on")
        if "cli" in step:
            line = self.fill(str(step["cli"]))
            outs = [lab.cli(host, line) for host in lab.select(on)]
            self.last_output = "".join(outs)
            errors = [x for x in self.last_output.splitlines() if x.startswith(ERRORS)]
            if errors:
                raise AssertionError(errors[0])
            return "cli", line
        if "advance" in step:
            spec = step["advance"]
            seconds = int(spec.get("days", 0)) * DAY + int(spec.get("hours", 0)) * 3600
            lines = lab.advance(seconds, spec.get("on", on))
            self.last_output = "\n".join(lines)
            return "advance", f"{spec}"
        if "clock" in step:
            spec = step["clock"]
            delta = 60 * (int(spec.get("minutes", 0)) + 60 * int(spec.get("hours", 0)))
            delta += int(spec.get("days", 0)) * DAY
            for host in lab.select(spec.get("on", on)):
                when = time.gmtime(lab.clocks[host].now() + delta)
                lab.cli(host, f"clock set {time.strftime('%H:%M:%S %d %b %Y', when)}")
            return "clock", f"{spec}"
        if "utility" in step:
            which = _which(step.get("which"))
            return "utility", self._utility(self.fill(str(step["utility"])), which)
        if "authority" in step:
            args = step["authority"]
            args = args.split() if isinstance(args, str) else [str(a) for a in args]
            args = [self.fill(a) for a in args]
            self.last_output = authority_cli_run(lab.folder / "authority", *args)
            for field_name, name in dict(step.get("capture") or {}).items():
                self.captured[str(name)] = str(json.loads(self.last_output)[field_name])
            return "authority", " ".join(args)
        if "move" in step:
            source = Path(self.fill(step["move"]["from"]))
            target = Path(self.fill(step["move"]["to"]))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            return "move", f"{source.name} -> {target}"
        if "tamper" in step:
            source = Path(self.fill(step["tamper"]["from"]))
            target = Path(self.fill(step["tamper"]["to"]))
            data = bytearray(source.read_bytes())
            at = data.rindex(b"=") - 8 if b"=" in data else len(data) // 2
            data[at] = ord("A") if data[at] != ord("A") else ord("B")
            target.write_bytes(bytes(data))
            return "tamper", f"{source.name} -> {target.name} (one byte changed)"
        if "fault" in step:
            fault = step["fault"]
            which = step.get("which")
            if fault == "utility-down":
                lab.stop_utility(_which(which) if which else None)
            elif fault == "utility-up":
                lab.start_utility(_which(which) if which else None)
            else:
                raise ValueError(f"unknown fault {fault!r}")
            return "fault", fault
        if "expect" in step:
            return "expect", self._expect(step["expect"], on)
        raise ValueError(f"unknown step {step!r}")

    def _utility(self, action: str, which: str | None) -> str:
        utility = self.lab.utility if which is None else self.lab.utilities.get(which)
        if utility is None:
            name = f"the {which} utility" if which else "the utility"
            raise AssertionError(f"{name} is down or not in this lab")
        verb, _, arg = action.partition(" ")
        if verb == "collect":
            result: Any = utility.collect()
        elif verb == "upload":
            result = utility.upload_all()
        elif verb == "download-all":
            result = utility.download_all(Path(arg))
        elif verb == "upload-from":
            result = utility.upload_from(Path(arg))
        elif verb == "deliver":
            result = utility.deliver_pending()
        else:
            raise ValueError(f"unknown utility action {verb!r}")
        self.last_output = str(result)
        return action

    def _expect(self, spec: dict[str, Any], on: Any) -> str:
        lab = self.lab
        hosts = lab.select(spec.get("on", on))
        contains = spec.get("contains")
        absent = spec.get("absent")
        if "show" in spec:
            command = self.fill(str(spec["show"]))
            for host in hosts:
                out = lab.cli(host, command)
                self._check(out, contains, absent, f"{host} `{command}`")
            return f"{command}: {contains or ''}{' not ' + absent if absent else ''}"
        if "message" in spec:
            mnemonic = spec["message"]
            for host in hosts:
                lines = [e.console_line() for e in lab.agents[host].syslog()]
                seen = any(f"-{mnemonic}:" in line for line in lines)
                if seen == bool(spec.get("absent_message", False)):
                    raise AssertionError(
                        f"{host}: %SMART_LIC {mnemonic} {'seen' if seen else 'not seen'}"
                    )
            return f"%SMART_LIC {mnemonic}"
        if "output" in spec:
            self._check(self.last_output, spec["output"], absent, "the previous step")
            return f"output has {spec['output']!r}"
        if "state" in spec:
            key = spec["state"]
            for host in hosts:
                value: Any = lab.agents[host].status().to_json()
                for part in key.split("."):
                    value = value[part]
                if "equals" in spec and value != spec["equals"]:
                    raise AssertionError(f"{host}: {key} is {value!r}, not {spec['equals']!r}")
                if spec.get("set") and value in (None, "", 0, []):
                    raise AssertionError(f"{host}: {key} is not set")
            return f"{key} {'= ' + repr(spec['equals']) if 'equals' in spec else 'set'}"
        if "file" in spec:
            path = Path(self.fill(spec["file"]))
            if not path.exists():
                raise AssertionError(f"{path} does not exist")
            if contains:
                self._check(path.read_text(errors="replace"), contains, absent, str(path))
            return f"file {path.name}"
        raise ValueError(f"unknown expectation {spec!r}")

    @staticmethod
    def _check(text: str, contains: Any, absent: Any, where: str) -> None:
        for want in [contains] if isinstance(contains, str) else contains or []:
            if want not in text:
                raise AssertionError(f"{where}: {want!r} not found in:\n{text.strip()[:800]}")
        for bad in [absent] if isinstance(absent, str) else absent or []:
            if bad in text:
                raise AssertionError(f"{where}: {bad!r} found")


def _which(name: Any) -> str | None:
    if name is None:
        return None
    if name not in (CONNECTED, DISCONNECTED):
        raise ValueError(f"which: must be {CONNECTED} or {DISCONNECTED}, not {name!r}")
    return str(name)


def run(path: Path, folder: Path, *, template: Path | None = None) -> Report:
    """Start the scenario's lab in ``folder``, run every step, stop the lab."""
    data = load(path)
    started = time.monotonic()
    lab = Lab.create(
        folder,
        instances=int(data.get("instances", 2)),
        topology=str(data.get("topology", "direct")),
        template=template,
    )
    try:
        report = run_in(lab, data, str(path))
    finally:
        lab.close()
    report.seconds = time.monotonic() - started
    return report


def run_in(lab: Lab, data: dict[str, Any], path: str) -> Report:
    """Run a loaded scenario's steps in a lab that is already running (it stays running)."""
    report = Report(str(data.get("name", Path(path).stem)), path)
    started = time.monotonic()
    runner = Runner(lab)
    for number, step in enumerate(data["steps"], start=1):
        expect_fail = bool(step.get("fail", False)) if isinstance(step, dict) else False
        try:
            kind, detail = runner.run_step(step)
            ok, message = not expect_fail, "" if not expect_fail else "did not fail"
        except (
            AssertionError, SmartLicError, RuntimeError, KeyError, OSError, ValueError,
            TypeError, AttributeError,  # a malformed step, such as `advance: 5`
        ) as exc:  # fmt: skip
            kind = next(iter(step)) if isinstance(step, dict) else "?"
            detail = str(step.get(kind, "")) if isinstance(step, dict) else str(step)
            reason = exc.reason if isinstance(exc, SmartLicError) else str(exc)
            ok, message = expect_fail, "" if expect_fail else reason
            wanted = step.get("error") if isinstance(step, dict) else None
            if ok and wanted and str(wanted) not in reason:
                ok, message = False, f"failed with {reason!r}, not {wanted!r}"
        report.steps.append(StepResult(number, kind, detail, ok, message))
        if not ok and not data.get("continue_on_failure", False):
            break
    report.seconds = time.monotonic() - started
    return report
