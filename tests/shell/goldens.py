"""Our own ``show`` output per state, as kept in tests/golden/shell/ (see make_shell_goldens)."""

from __future__ import annotations

import re
from pathlib import Path

from smartlic.instance.shell.session import Device
from tests.shell.states import STATES, build, normalize

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden" / "shell"

COMMANDS = (
    "show license status",
    "show license summary",
    "show license usage",
    "show license udi",
    "show license all",
    "show license tech support",
    "show license eventlog",
    "show license rum id all",
    "show license rum id {report} detail",
    "show license history message",
    "show license authorization",
    "show license reservation",
    "show license data conversion",
    "show running-config",
    "show call-home smart-licensing",
)


def file_name(command: str) -> str:
    return command.replace(" {report}", "").replace(" ", "_").replace("-", "_") + ".txt"


def render_all(root: Path) -> dict[str, str]:
    """``{"<state>/<command>.txt": text}`` for every state and command, normalized."""
    out: dict[str, str] = {}
    for name in sorted(STATES):
        agent = build(name, root)
        try:
            session = Device(agent).session(privileged=True)
            report = agent.reports()[0].report_id
            for command in COMMANDS:
                text = session.execute(command.format(report=report))
                text = text.replace(str(root), "<root>")
                text = re.sub(
                    r"Event log current size: \d+ KB", "Event log current size: <n> KB", text
                )
                out[f"{name}/{file_name(command)}"] = normalize(text)
        finally:
            agent.close()
    return out
