"""What a server prints when it starts: every URL a person or a device uses, one per line.

A person who starts a server should not have to read the docs to find its pages; a device
needs the push endpoint. ``serve`` commands print these lines (or the same as JSON).
"""

from __future__ import annotations

from dataclasses import dataclass

from smartlic.core.protocol import PUSH_PATHS
from smartlic.support.listen import display_host


@dataclass(frozen=True)
class Url:
    what: str
    path: str
    note: str = ""


AUTHORITY_URLS = (
    Url("portal", "/portal/", "sign in here"),
    Url("API docs", "/docs", "the REST API, /api/v1, and the CSSM-compatible /v2"),
    Url("OpenAPI", "/openapi.json"),
    Url("push endpoint", PUSH_PATHS[0], "product instances and utilities POST here"),
    Url("tenant push endpoint", PUSH_PATHS[0] + "/<tenant id>", "SSM On-Prem style"),
    Url("smart transport", PUSH_PATHS[1], "license smart url of a directly connected device"),
    Url("key sets", "/api/v1/keysets", "the trust anchor for --authority-keys"),
    Url("health", "/healthz"),
    Url("metrics", "/metrics", "Prometheus"),
)

UTILITY_URLS = (
    Url("console", "/console/", "from this machine only"),
    Url("push endpoint", PUSH_PATHS[0], "license smart url cslu of the devices"),
    Url("tenant push endpoint", PUSH_PATHS[0] + "/<tenant id>"),
    Url("health", "/healthz"),
    Url("metrics", "/metrics", "Prometheus"),
)


def base_url(scheme: str, host: str, port: int) -> str:
    return f"{scheme}://{display_host(host)}:{port}"


def urls(base: str, entries: tuple[Url, ...]) -> dict[str, str]:
    return {u.what: base + u.path for u in entries}


def lines(title: str, base: str, entries: tuple[Url, ...]) -> str:
    width = max(len(u.what) for u in entries)
    out = [title]
    for u in entries:
        note = f"  ({u.note})" if u.note else ""
        out.append(f"  {u.what.ljust(width)}  {base}{u.path}{note}")
    return "\n".join(out)
