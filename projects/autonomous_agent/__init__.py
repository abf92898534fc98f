"""Autonomous agent: plan, act with tools, verify, self-correct, remember — checkpointed in PostgreSQL."""
