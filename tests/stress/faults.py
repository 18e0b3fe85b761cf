"""The only fakes of the stress tests: faults on a real HTTP link.

Everything else is real (sockets, servers, databases); a ``FaultyLink`` sits under an
``httpx.Client`` and, when armed, refuses the next request or delivers it and then drops the
answer. The second is the interesting one: the peer committed, the caller never heard, so it
sends again — exactly what a crash after commit or a cut cable does to a licensing exchange.
"""

from __future__ import annotations

import httpx


class FaultyLink(httpx.BaseTransport):
    """Real HTTP underneath; ``refuse`` / ``drop_answer`` arm one-shot faults."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self.refuse = 0
        self.drop_answer = 0
        self.delivered: list[bytes] = []
        self.server_errors: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.refuse:
            self.refuse -= 1
            raise httpx.ConnectError("injected fault: connection refused", request=request)
        response = self._inner.handle_request(request)
        response.read()
        self.delivered.append(request.content)
        if response.status_code >= 500:
            self.server_errors.append(f"{request.url}: HTTP {response.status_code}")
        if self.drop_answer:
            self.drop_answer -= 1
            response.close()
            raise httpx.ReadError("injected fault: answer lost after delivery", request=request)
        return response

    def close(self) -> None:
        self._inner.close()


def client_over(link: FaultyLink) -> httpx.Client:
    return httpx.Client(transport=link, timeout=20.0)
