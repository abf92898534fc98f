"""Who the caller acts for: the end user and tenant from gateway-set headers.

``X-User-Id``, ``X-Tenant-Id`` and ``X-Groups`` (comma list) are the integration point for a real
identity provider: put the services behind a gateway/OIDC proxy that authenticates the user, sets
these headers from the token's claims and strips client-sent ones — or replace :func:`principal`
with a dependency that validates a JWT. The platform's API key authenticates the *client
application*; these headers say which *user* it acts for. Every project that keeps per-user or
per-tenant state depends on this one function, so switching to JWTs is one change.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from shared.api.problems import ProblemError
from shared.retrieval.models import Principal


def principal(
    x_user_id: Annotated[str | None, Header(description="the end user (set by your IdP gateway)")] = None,
    x_tenant_id: Annotated[str | None, Header(description="the user's tenant")] = None,
    x_groups: Annotated[str | None, Header(description="comma-separated groups of the user")] = None,
) -> Principal:
    if not x_user_id or not x_tenant_id:
        raise ProblemError(401, "Unauthorized", "X-User-Id and X-Tenant-Id headers are required")
    groups = tuple(sorted({g.strip() for g in (x_groups or "").split(",") if g.strip()}))
    return Principal(user_id=x_user_id, tenant_id=x_tenant_id, groups=groups)


principal_dep = Depends(principal)
