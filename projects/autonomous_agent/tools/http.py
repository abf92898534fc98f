"""``http_get``: GET requests to allow-listed hosts only.

Why this shape: the network is the agent's way to leak data and to be steered by untrusted content, so the only
network tool is a GET, the host must be on ``AGENT__HTTP_ALLOWLIST`` (empty by default: no network at all), and
redirects are followed by hand, one hop at a time, each hop checked against the list again (a listed host must
not bounce the agent to an unlisted one). The body is read in a stream up to ``http_max_bytes``; more is cut,
never buffered. Permission ``network`` makes the loop ask a human before each call (by default).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from projects.autonomous_agent.settings import AgentSettings, get_agent_settings
from projects.autonomous_agent.types import Permission, ToolContext, ToolResult

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml", "application/javascript")


def host_allowed(url: str, allowlist: list[str]) -> bool:
    """``host`` entries match that host on any port, ``host:port`` only that port, ``.example.org`` the domain
    and its subdomains. Comparison is on the URL's parsed hostname, lower-case."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        return False
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    for entry in allowlist:
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry.startswith("."):
            if host == entry[1:] or host.endswith(entry):
                return True
            continue
        name, entry_port = entry, ""
        if entry.count(":") == 1:  # host:port (a bare IPv6 address has several colons)
            name, entry_port = entry.split(":")
        elif entry.startswith("[") and "]:" in entry:  # [::1]:8080
            name, entry_port = entry[1:].split("]:")
        name = name.strip("[]")
        if name == host and (not entry_port or (entry_port.isdigit() and int(entry_port) == port)):
            return True
    return False


class HttpGetTool:
    name = "http_get"
    permission: Permission = "network"

    def __init__(self, settings: AgentSettings | None = None, allowlist: list[str] | None = None) -> None:
        self.settings = settings or get_agent_settings()
        self.allowlist = list(self.settings.http_allowlist if allowlist is None else allowlist)
        hosts = ", ".join(self.allowlist) if self.allowlist else "none (network disabled)"
        self.description = (
            f"HTTP GET a URL and return the response body as text (at most {self.settings.http_max_bytes} bytes). "
            f"Only these hosts are reachable: {hosts}."
        )
        self.parameters: dict[str, Any] = {
            "type": "object",
            "properties": {"url": {"type": "string", "minLength": 1, "description": "http:// or https:// URL"}},
            "required": ["url"],
            "additionalProperties": False,
        }

    def timeout_for(self, arguments: dict[str, Any]) -> float:
        return self.settings.http_timeout_s * (self.settings.http_max_redirects + 1) + 5.0

    def _refusal(self, url: str) -> str | None:
        scheme = urlsplit(url).scheme
        if scheme not in ("http", "https"):
            return f"only http and https URLs are allowed, not {scheme or 'a relative URL'!r}"
        if not host_allowed(url, self.allowlist):
            listed = ", ".join(self.allowlist) if self.allowlist else "none: network access is disabled"
            return f"host {urlsplit(url).hostname!r} is not on the HTTP allow-list (allowed: {listed})"
        return None

    def run(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolResult:
        url = arguments["url"].strip()
        s = self.settings
        hops: list[str] = []
        refusal = self._refusal(url)
        if refusal:  # before building a client (loading TLS certificates costs ~0.3 s)
            return ToolResult(ok=False, error=refusal)
        with httpx.Client(follow_redirects=False, timeout=s.http_timeout_s, trust_env=False) as client:
            for _ in range(s.http_max_redirects + 1):
                refusal = self._refusal(url)
                if refusal:
                    where = f" (redirected from {hops[0]})" if hops else ""
                    return ToolResult(ok=False, error=refusal + where)
                hops.append(url)
                try:
                    with client.stream("GET", url, headers={"User-Agent": "autonomous-agent/1"}) as response:
                        if response.is_redirect and "location" in response.headers:
                            url = urljoin(url, response.headers["location"])
                            continue
                        body, cut = self._read(response, s.http_max_bytes)
                        return self._result(response, body, cut, hops)
                except httpx.HTTPError as exc:
                    return ToolResult(ok=False, error=f"HTTP request failed: {type(exc).__name__}: {exc}")
        return ToolResult(ok=False, error=f"too many redirects (limit {s.http_max_redirects}): {' -> '.join(hops)}")

    @staticmethod
    def _read(response: httpx.Response, cap: int) -> tuple[bytes, bool]:
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                return b"".join(chunks)[:cap], True
        return b"".join(chunks), False

    @staticmethod
    def _result(response: httpx.Response, body: bytes, cut: bool, hops: list[str]) -> ToolResult:
        ctype = response.headers.get("content-type", "")
        if ctype and not ctype.startswith(_TEXT_TYPES):
            text = f"<{len(body)}{'+' if cut else ''} bytes of {ctype}: not shown>"
        else:
            text = body.decode(response.encoding or "utf-8", errors="replace")
        head = f"HTTP {response.status_code} {response.reason_phrase} ({ctype or 'no content-type'})"
        note = "\n[body cut at the size limit]" if cut else ""
        data = {"status": response.status_code, "url": str(response.url), "redirects": hops[:-1], "bytes": len(body)}
        ok = response.status_code < 400
        return ToolResult(
            ok=ok,
            output=f"{head}\n{text}{note}",
            error=None if ok else f"HTTP {response.status_code} {response.reason_phrase}",
            data=data,
            truncated=cut,
        )
