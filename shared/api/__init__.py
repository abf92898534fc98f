"""API kit: ``create_app`` (the factory every service uses), problem details, the shared service context.

Typical project wiring::

    from shared.api import ServiceContext, create_app

    def create_router(ctx: ServiceContext) -> APIRouter: ...        # projects/<slug>/api.py
    app = create_app("Enterprise RAG", routers=[("/rag", create_router(ServiceContext()))])  # standalone
"""

from shared.api.app import EXEMPT_PATHS, create_app
from shared.api.context import ServiceContext
from shared.api.problems import COMMON_ERRORS, ProblemError, problem_response, problem_responses

__all__ = [
    "COMMON_ERRORS",
    "EXEMPT_PATHS",
    "ProblemError",
    "ServiceContext",
    "create_app",
    "problem_response",
    "problem_responses",
]
