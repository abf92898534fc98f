"""HTTP client for the Enterprise RAG API, as the portal page uses it (no Streamlit in here: testable alone)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from shared.settings import get_settings

PREFIX = "/rag"


class ApiError(RuntimeError):
    """An API call failed; the message is the problem body's detail when there is one."""


@dataclass(frozen=True)
class Identity:
    """Who the page acts as. The API reads these headers; a real deployment puts an IdP in front."""

    user_id: str
    tenant_id: str
    groups: tuple[str, ...]

    def headers(self) -> dict[str, str]:
        return {"X-User-Id": self.user_id, "X-Tenant-Id": self.tenant_id, "X-Groups": ",".join(self.groups)}


# The demo's people (see projects/enterprise_rag/demo_corpus.py for what each may read).
DEMO_IDENTITIES: dict[str, Identity] = {
    "alice (Acme engineer)": Identity("alice", "acme", ("engineering",)),
    "hana (Acme HR)": Identity("hana", "acme", ("hr",)),
    "frank (Acme finance)": Identity("frank", "acme", ("finance",)),
    "bob (Globex employee)": Identity("bob", "globex", ()),
}


@dataclass(frozen=True)
class RagClient:
    base_url: str
    identity: Identity
    api_key: str | None = None
    timeout_s: float = 600.0

    @classmethod
    def from_settings(cls, identity: Identity) -> RagClient:
        portal = get_settings().portal
        key = portal.api_key.get_secret_value() if portal.api_key else None
        return cls(portal.api_url.rstrip("/") + PREFIX, identity, key)

    def _headers(self) -> dict[str, str]:
        headers = self.identity.headers()
        if self.api_key:
            headers["X-API-Key"] = self.api_key
        return headers

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = httpx.request(
                method, self.base_url + path, headers=self._headers(), timeout=self.timeout_s, **kwargs
            )
        except httpx.HTTPError as exc:
            raise ApiError(f"the RAG API at {self.base_url} is unreachable: {exc}") from exc
        if resp.status_code >= 400:
            try:
                body = resp.json()
                detail = body.get("detail") or body.get("title")
            except ValueError:
                detail = resp.text[:300]
            raise ApiError(f"{resp.status_code}: {detail}")
        return resp.json()

    def collections(self) -> list[dict[str, Any]]:
        return self._call("GET", "/collections")

    def create_collection(self, name: str, description: str, allowed_groups: list[str]) -> dict[str, Any]:
        body = {"name": name, "description": description, "allowed_groups": allowed_groups}
        return self._call("POST", "/collections", json=body)

    def upload(self, collection: str, files: list[tuple[str, bytes]], allowed_groups: list[str] | None) -> dict:
        data = {"allowed_groups": ",".join(allowed_groups)} if allowed_groups else {}
        parts = [("files", (name, content)) for name, content in files]
        return self._call("POST", f"/collections/{collection}/documents", files=parts, data=data)

    def job(self, job_id: int) -> dict[str, Any]:
        return self._call("GET", f"/jobs/{job_id}")

    def chat(self, collection: str, question: str, conversation_id: str | None) -> dict[str, Any]:
        body = {"collection": collection, "question": question, "conversation_id": conversation_id}
        return self._call("POST", "/chat", json=body)

    def feedback(self, message_id: int, rating: str, comment: str = "") -> dict[str, Any]:
        return self._call("POST", "/feedback", json={"message_id": message_id, "rating": rating, "comment": comment})
