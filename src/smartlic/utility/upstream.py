"""The authority as the utility sees it: one URL, one API token, retries with backoff.

A 5xx, 429, timeout, dropped connection or unreadable answer is a communication failure
(``CommunicationError``) after the retries; an ``ERROR`` answer is the authority's refusal and is
returned as a ``Response`` for the caller to relay. Re-sending is safe: the authority is
idempotent on re-sent reports (docs/protocol.md, "Idempotency").
"""

from __future__ import annotations

import time

import httpx

from smartlic.core.errors import CommunicationError, FormatError
from smartlic.core.protocol import Request, Response

PEER = "CSSM"


class Upstream:
    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        tenant: str | None = None,
        timeout: float = 20.0,
        attempts: int = 3,
        backoff: float = 0.25,
        client: httpx.Client | None = None,
    ) -> None:
        base = url.rstrip("/")
        self.url = base if base.endswith("/cslu/v1/pi") else f"{base}/cslu/v1/pi"
        if tenant:
            self.url = f"{self.url}/{tenant}"
        self.token = token
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self._client = client or httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._client.close()

    @property
    def closed(self) -> bool:
        return self._client.is_closed

    def exchange(self, request: Request | bytes) -> Response:
        body = request if isinstance(request, bytes) else request.to_bytes()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        reason = "no attempt"
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff * (2 ** (attempt - 1)))
            try:
                reply = self._client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc}"
                continue
            if reply.status_code >= 500 or reply.status_code == 429:
                reason = f"HTTP {reply.status_code} from {self.url}"
                continue
            try:
                return Response.parse(reply.content)
            except FormatError as exc:
                reason = f"unreadable answer (HTTP {reply.status_code}): {exc.reason}"
                if reply.status_code in (401, 403):
                    reason = f"HTTP {reply.status_code}: the API token was refused"
                continue
        raise CommunicationError(PEER, reason)
