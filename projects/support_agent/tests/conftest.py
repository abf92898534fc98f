"""Fixtures the conversation tests share: the fitted router and the rails, loaded once per module."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def router():
    from projects.support_agent.router import get_router

    return get_router()


@pytest.fixture(scope="module")
def warm_rails() -> None:
    """Load the input/output rails (Presidio, classifiers, moderation) before the first timed turn."""
    from shared.guardrails import check_input, check_output

    check_input("warm up the rails once per module: jane@example.com")
    check_output("warm up")
