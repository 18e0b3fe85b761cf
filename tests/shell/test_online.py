"""The EXEC commands that talk to an authority, over real HTTP to the test authority."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from smartlic.instance import Agent
from smartlic.instance.shell.session import Device, Session
from tests.instance.mini_authority import MiniAuthority, serve
from tests.shell.states import build

genie_base = pytest.importorskip("genie.conf.base")


@pytest.fixture
def authority() -> MiniAuthority:
    return MiniAuthority()


@pytest.fixture
def agent(tmp_path: Path, authority: MiniAuthority) -> Iterator[Agent]:
    agent = build("fresh", tmp_path, authority)
    authority.now = agent.clock.now()
    yield agent
    agent.close()


@pytest.fixture
def session(agent: Agent, authority: MiniAuthority) -> Iterator[Session]:
    with serve(authority.app()) as url:
        session = Device(agent).session(privileged=True)
        out = "".join(
            session.execute(line)
            for line in (
                "configure terminal",
                f"license smart url cslu {url}/cslu/v1/pi",
                "end",
            )
        )
        assert "Invalid" not in out
        yield session


def test_sync_trust_and_authorization(
    session: Session, agent: Agent, authority: MiniAuthority
) -> None:
    assert session.execute("license smart sync all") == ""
    assert agent.usage_summary().acknowledged == 2
    assert sorted(authority.received) == sorted(r.report_id for r in agent.reports("ACK"))
    assert session.execute("license smart trust idtoken good-token local") == ""
    assert agent.trust_code() is not None
    refused = session.execute("license smart trust idtoken good-token local")
    assert refused.startswith("% Error")
    assert session.execute("license smart trust idtoken good-token all force") == ""
    assert session.execute("license smart authorization request add hseck9 local") == ""
    assert agent.authorization_codes()
    assert session.execute("license smart authorization return local online") == ""
    assert not agent.authorization_codes()
    text = session.execute("show license history message")
    device = genie_base.Device("pi", os="iosxe")
    device.custom.setdefault("abstraction", {})["order"] = ["os", "platform", "model"]
    parsed = device.parse("show license history message", output=text)
    history = parsed["message_history"]
    assert history["usage_reporting"] == "Response status OK"
    assert history["trust_establishment"] == "Response status OK"
    assert history["authorization_request"] == "Response status OK"
    assert history["result_polling"] == "No past history"
    tech = device.parse(
        "show license tech support", output=session.execute("show license tech support")
    )
    stats = tech["communication_statistics"]
    assert stats["communication_level_allowed"] == "INDIRECT"
    logging = session.execute("show logging | include SMART_LIC")
    assert "TRUST_INSTALL_SUCCESS" in logging
    assert "AUTHORIZATION_REMOVED" in logging
