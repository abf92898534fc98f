"""The sandbox's data types: limits in, result out."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from shared.settings import get_settings

Status = Literal["ok", "error", "timeout", "memory", "output_limit", "killed"]


class SandboxError(RuntimeError):
    """The sandbox itself could not run the code (not: the code failed). E.g. isolation required but unavailable."""


def _default(name: str):
    return lambda: getattr(get_settings().sandbox, name)


class SandboxLimits(BaseModel):
    """Per-run limits; every default comes from ``settings.sandbox`` (env ``SANDBOX__*``)."""

    wall_s: float = Field(default_factory=_default("wall_s"), gt=0)
    cpu_s: float = Field(default_factory=_default("cpu_s"), gt=0)
    memory_mb: int = Field(default_factory=_default("memory_mb"), ge=16)
    max_processes: int = Field(default_factory=_default("max_processes"), ge=1)
    max_file_mb: int = Field(default_factory=_default("max_file_mb"), ge=1)
    max_output_bytes: int = Field(default_factory=_default("max_output_bytes"), ge=1)
    network: bool = Field(default_factory=_default("network"))


class SandboxResult(BaseModel):
    """What happened. ``ok`` means exit 0; ``memory`` is a MemoryError (or a kill at the memory limit)."""

    status: Status
    exit_code: int | None = Field(description="None when killed by a signal")
    signal: int | None = Field(description="the signal that ended the main process, if any")
    stdout: str
    stderr: str
    truncated: bool = Field(description="output went past max_output_bytes and was cut")
    duration_s: float
    network_isolated: bool = Field(description="the run had its own (empty) network namespace")
