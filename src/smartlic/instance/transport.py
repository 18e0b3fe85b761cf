"""Carriers for the message model (docs/protocol.md): HTTP push to a utility (``cslu``) or to
the authority (``smart``). ``off`` has no transport. Tests inject an ``httpx.Client`` (or any
``httpx`` transport, e.g. ``MockTransport`` for a dropped connection or a 502)."""

from __future__ import annotations

from typing import Protocol

import httpx

from smartlic.core.errors import CommunicationError, FormatError
from smartlic.core.protocol import Request, Response

DNS_FAILURE = "Unable to resolve server hostname/domain name"
SEND_FAILURE = "Fail to send out Call Home HTTP message."


class Transport(Protocol):
    peer: str

    def exchange(self, request: Request) -> Response: ...


class HttpTransport:
    """POST the request JSON; 5xx, timeouts, dropped connections and garbage are comm failures.

    A 4xx with a well-formed ``ERROR`` body is an answer (the peer refused), not a failure.
    """

    def __init__(
        self,
        url: str,
        peer: str,
        client: httpx.Client | None = None,
        *,
        timeout: float = 30.0,
        proxy: str | None = None,
    ) -> None:
        self.url = url
        self.peer = peer
        self._client = client
        self._timeout = timeout
        self._proxy = proxy

    def exchange(self, request: Request) -> Response:
        client = self._client
        owned = client is None
        if client is None:
            client = httpx.Client(timeout=self._timeout, proxy=self._proxy)
        try:
            reply = client.post(
                self.url,
                content=request.to_bytes(),
                headers={"Content-Type": "application/json"},
            )
        except httpx.ConnectError as exc:
            text = str(exc)
            dns = "resolve" in text or "Name or service" in text or "getaddrinfo" in text
            reason = DNS_FAILURE if dns else f"{SEND_FAILURE} {text}"
            raise CommunicationError(self.peer, reason) from None
        except httpx.TimeoutException:
            raise CommunicationError(self.peer, f"{SEND_FAILURE} Timed out") from None
        except httpx.HTTPError as exc:
            raise CommunicationError(self.peer, f"{SEND_FAILURE} {exc}") from None
        finally:
            if owned:
                client.close()
        if reply.status_code >= 500 or reply.status_code == 429:
            raise CommunicationError(self.peer, f"HTTP {reply.status_code} from {self.url}")
        try:
            return Response.parse(reply.content)
        except FormatError as exc:
            raise CommunicationError(
                self.peer, f"unreadable response (HTTP {reply.status_code}): {exc.reason}"
            ) from None
