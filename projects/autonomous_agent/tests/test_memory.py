"""Episodic memory on the packaged embedder and pgvector: a succeeded run is remembered and recalled for a similar
goal (and shown to the planner), tenants do not share memories, and retention keeps the newest N."""

from __future__ import annotations

import json

import pytest

from projects.autonomous_agent.memory import EpisodicMemory
from projects.autonomous_agent.settings import AgentSettings
from shared.retrieval import PgVectorStore
from shared.retrieval.migrations import upgrade
from shared.testing.doubles import ToolCallingChat, tool_call


@pytest.fixture(scope="module")
def embedder():
    from shared.serving import get_embedder

    return get_embedder()


@pytest.fixture
def memory(database_url: str, embedder, agent_settings: AgentSettings) -> EpisodicMemory:
    upgrade(database_url)
    settings = agent_settings.model_copy(update={"memory": True, "memory_max_per_tenant": 3})
    return EpisodicMemory(PgVectorStore(database_url), embedder, settings)


def test_a_successful_run_is_recalled_for_a_similar_goal_by_the_planner(make_loop, memory, agent_store) -> None:
    first = make_loop(ToolCallingChat(tool_call("calculator", expression="120 * 0.2"), "FINAL ANSWER: 24"),
                      memory=True)  # fmt: skip
    first.memory = memory
    run_id = first.start("What is a 20% tip on a 120 dollar bill?", tenant="acme")
    assert first.run(run_id).status == "succeeded"
    assert memory.count("acme") == 1 and memory.count("other") == 0

    plan = {"steps": [{"description": "compute 15% of 80", "success_criterion": "a number"}]}
    chat = ToolCallingChat(json.dumps(plan), tool_call("calculator", expression="80 * 0.15"), "FINAL ANSWER: 12")
    second = make_loop(chat, memory=True, plan=True)
    second.memory = memory
    run2 = second.start("How much is a 15% tip on an 80 dollar bill?", tenant="acme")
    state = second.run(run2)
    assert state.memories and "What worked: calculator" in state.memories[0]
    assert "What worked for similar goals" in chat.calls[0].messages[-1].content  # the planner saw it
    assert memory.recall("other", "How much is a 15% tip on an 80 dollar bill?") == []  # tenant-scoped


def test_unrelated_goals_recall_nothing_and_retention_keeps_the_newest(memory) -> None:
    for i in range(5):
        memory.remember(run_id=f"r{i}", tenant="acme", goal=f"Summarise incident report number {i}",
                        tools_used=["knowledge_search"], answer=f"summary {i}")  # fmt: skip
    assert memory.count("acme") == 3  # AGENT__MEMORY_MAX_PER_TENANT
    assert memory.recall("acme", "Bake a sourdough bread with rye flour") == []
    assert memory.recall("acme", "Summarise incident report number 4")  # similar: recalled
