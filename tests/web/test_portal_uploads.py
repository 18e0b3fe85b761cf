"""Reports > Usage Data Files in the system chromium: upload a trust request file, get its
trust-code file, see the upload listed with its status, download its answer again; a file the
authority cannot take is listed as failed with its reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smartlic.authority.accounts.service import AccountService
from smartlic.authority.db import transaction
from smartlic.authority.uploads.models import UploadStatus
from smartlic.authority.uploads.service import UploadService
from tests.web.conftest import AuthorityWeb, shot
from tests.web.test_portal import make_agent, sign_in


def test_upload_see_status_download_result(
    page: Any, authority_web: AuthorityWeb, tmp_path: Path
) -> None:
    agent = make_agent(tmp_path, authority_web, "FOC2210Z0TR")
    agent.configure(transport="off")
    request = tmp_path / "sw1-trust.xml"
    agent.save_trust_request(request)
    sign_in(page, authority_web.base)
    page.get_by_role("link", name="Reports").click()

    page.get_by_label("Usage file", exact=False).set_input_files(str(request))
    with page.expect_download() as answer:
        page.get_by_role("button", name="Upload and download the ACK file").click()
    assert answer.value.suggested_filename == "TrustCode_sw1-trust.xml"
    first = Path(answer.value.path()).read_bytes()
    assert "trust code" in agent.import_file(answer.value.path()).installed
    assert agent.trust_code() is not None

    page.goto(f"{authority_web.base}/portal/reports")
    row = page.locator("#uploads tr", has_text="sw1-trust.xml")
    assert "Trust request file" in row.inner_text()
    assert "Processed" in row.inner_text()
    with page.expect_download() as again:
        row.get_by_role("link", name="Download TrustCode_sw1-trust.xml").click()
    assert Path(again.value.path()).read_bytes() == first
    shot(page, "portal-reports-uploads")

    # A file the authority wrote is not an upload: refused in words, and listed as failed.
    answer_file = tmp_path / "answer.xml"
    answer_file.write_bytes(first)
    page.get_by_label("Usage file", exact=False).set_input_files(str(answer_file))
    page.get_by_role("button", name="Upload and download the ACK file").click()
    alert = page.inner_text("[role=alert]")
    assert "The upload of answer.xml failed: a key set file cannot be uploaded" in alert
    page.goto(f"{authority_web.base}/portal/reports")
    failed = page.locator("#uploads tr", has_text="answer.xml")
    assert "Failed" in failed.inner_text() and "cannot be uploaded" in failed.inner_text()
    assert failed.get_by_role("link").count() == 0


def test_another_accounts_upload_is_not_found(
    page: Any, authority_web: AuthorityWeb, tmp_path: Path
) -> None:
    authority = authority_web.authority
    agent = make_agent(tmp_path, authority_web, "FOC2210Z0XX")
    request = tmp_path / "theirs.xml"
    agent.save_trust_request(request)
    with transaction(authority.sessions) as s:
        other = AccountService(authority).create_account(s, "Other Corp")
        other_va = AccountService(authority).create_va(s, other.id, "Theirs")
    theirs = UploadService(authority).submit(
        other.id, other_va.id, request.read_bytes(), actor="test", file_name="theirs.xml"
    )
    assert theirs.status == UploadStatus.PROCESSED
    sign_in(page, authority_web.base)
    answer = page.request.get(f"{authority_web.base}/portal/reports/uploads/{theirs.id}/file")
    assert answer.status == 404
    page.goto(f"{authority_web.base}/portal/reports")
    assert "theirs.xml" not in page.inner_text("#uploads")
