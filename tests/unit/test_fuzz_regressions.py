"""Inputs fuzzing found that a parser did not refuse with an error of the project's hierarchy.

Each is the smallest input that shows the bug, through the narrowest door and through the one a
peer would use. Each failed before its
fix and guards it now. How they were found: docs/reliability.md, "Fuzzing".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from smartlic.core import jsonio, xmlfile
from smartlic.core.errors import FormatError
from smartlic.core.protocol import Request, Status

HUGE_INTEGER = b"1" + b"0" * 5000
"""More digits than CPython converts by default (``sys.get_int_max_str_digits()``, 4300)."""


def test_json_integer_of_more_than_4300_digits_is_a_format_error() -> None:
    with pytest.raises(FormatError):
        jsonio.loads(b'{"n": ' + HUGE_INTEGER + b"}")


def test_push_request_with_a_huge_integer_is_a_format_error() -> None:
    with pytest.raises(FormatError):
        Request.parse(b'{"protocol": ' + HUGE_INTEGER + b"}")


def test_xml_file_with_a_huge_integer_is_a_format_error() -> None:
    document = (
        b"<smartLicense><smartLicensePolicy><![CDATA["
        + b'{"header": '
        + HUGE_INTEGER
        + b"}]]></smartLicensePolicy></smartLicense>"
    )
    with pytest.raises(FormatError):
        xmlfile.read(document)


def test_utility_push_endpoint_answers_a_huge_integer_with_an_error(tmp_path: Path) -> None:
    """``Utility.handle`` promises never to raise: the device must get an ``ERROR`` answer."""
    from smartlic.utility.service import Utility

    utility = Utility(tmp_path / "utility")
    try:
        response = utility.handle(b'{"protocol": ' + HUGE_INTEGER + b"}")
    finally:
        utility.close()
    assert response.status is Status.ERROR
    assert response.error_code == "MALFORMED"
