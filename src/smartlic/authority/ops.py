"""Operations: Prometheus metrics, rate limits (per process; each worker keeps its own) and
structured JSON logs."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from smartlic.core.errors import SmartLicError


class RateLimitedError(SmartLicError):
    code = "RATE_LIMITED"
    default_hint = "Too many requests; wait for the Retry-After time and try again."

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass
class RateLimiter:
    """A token bucket per key: ``per_minute`` requests, bursts up to ``burst``."""

    per_minute: int
    burst: int
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, key: str, what: str) -> None:
        if self.per_minute <= 0:
            return
        rate = self.per_minute / 60.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = max(1, math.ceil((1.0 - tokens) / rate))
                raise RateLimitedError(f"too many {what} requests; retry in {wait} s", wait)
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > 100_000:
                self._buckets.clear()


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "smartlic_authority_http_requests",
            "HTTP requests by route template and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.messages = Counter(
            "smartlic_authority_messages",
            "Protocol messages by kind and outcome",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.refusals = Counter(
            "smartlic_authority_refusals",
            "Refusals by error code",
            ["code"],
            registry=self.registry,
        )
        self.reports = Counter(
            "smartlic_authority_reports_ingested",
            "RUM reports acknowledged",
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "smartlic_authority_ack_seconds",
            "Time to verify, store and ACK a usage report request",
            registry=self.registry,
        )


# --- structured logs --------------------------------------------------------------------------

access_log = logging.getLogger("smartlic.authority.access")
"""One JSON line per HTTP request (``event: request``) and per refusal (``event: refusal``)."""

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        for key, value in vars(record).items():
            if key not in _STANDARD and key != "fields" and key not in out:
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, separators=(",", ":"))


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on stderr for the ``smartlic.authority`` loggers (``serve`` calls this)."""
    logger = logging.getLogger("smartlic.authority")
    if any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def log_request(fields: dict[str, Any]) -> None:
    access_log.info("request", extra={"fields": {"event": "request", **fields}})


def log_refusal(fields: dict[str, Any]) -> None:
    access_log.info("refusal", extra={"fields": {"event": "refusal", **fields}})
