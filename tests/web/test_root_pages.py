"""A person who types only a server's address lands on its pages: the authority's root leads to
the portal's sign-in page, the utility's to its console; a push endpoint opened in a browser
says what it is for. In the system chromium, as a person would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smartlic.utility.app import create_app as utility_app
from smartlic.utility.service import Utility
from tests.web.conftest import AuthorityWeb, serving


@pytest.fixture
def utility_base(tmp_path: Path) -> Iterator[str]:
    utility = Utility(tmp_path / "utility")
    with serving(utility_app(utility)) as base:
        yield base
    utility.close()


def test_authority_root_lands_on_the_sign_in_page(page: Any, authority_web: AuthorityWeb) -> None:
    page.goto(authority_web.base)
    assert page.url == f"{authority_web.base}/portal/login"
    assert page.get_by_label("Password").is_visible()
    assert "smartlic authority — CSSM role" in page.title()
    assert "Cisco" not in page.title()


def test_utility_root_lands_on_the_console(page: Any, utility_base: str) -> None:
    page.goto(utility_base)
    assert page.url == f"{utility_base}/console/"
    assert "smartlic utility — CSLU role" in page.title()
    assert page.locator("header .brand").inner_text() == "smartlic utility — CSLU role"


@pytest.mark.parametrize("server", ["authority", "utility"])
def test_a_push_endpoint_opened_in_a_browser_says_what_it_is_for(
    page: Any, server: str, authority_web: AuthorityWeb, utility_base: str
) -> None:
    base = authority_web.base if server == "authority" else utility_base
    response = page.goto(f"{base}/cslu/v1/pi")
    assert response.status == 405
    assert response.headers["allow"] == "POST"
    assert "product instances POST their messages here" in page.content()
