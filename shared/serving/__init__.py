"""Serving: the chat-model, embedding, image-embedding and reranking ports, their backends, production wrappers.

Projects call ``get_chat_model()`` / ``get_embedder()`` / ``get_image_embedder()`` / ``get_reranker()`` and
program against the ports; which backend answers, and the caches, retries and accounting around it, is settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.serving.accounting import UsageTracker, track_usage
from shared.serving.base import ChatModel, Embedder, ModelNotFoundError, Reranker, ServingError
from shared.serving.factory import (
    get_batch_chat_model,
    get_chat_model,
    get_embedder,
    get_image_embedder,
    get_reranker,
    reset_serving_singletons,
)
from shared.serving.types import ChatMessage, ChatRequest, ChatResult, StreamChunk, ToolCall, ToolSpec, Usage

if TYPE_CHECKING:
    from shared.serving.local import LocalChatModel
    from shared.serving.openai_backend import OpenAIChatModel
    from shared.serving.structured import generate_structured
    from shared.serving.vision import (
        EfficientNetImageEmbedder,
        ImageAnalysis,
        ImageEmbedder,
        TextTowerUnavailable,
        build_image_embedder,
    )
    from shared.serving.vision_clip import OpenClipImageEmbedder
    from shared.serving.vision_openai import OpenAIImageEmbedder

# name -> module; imported on first use so `import shared.serving` stays light (no torch, no openai)
_LAZY = {
    "generate_structured": "shared.serving.structured",
    "LocalChatModel": "shared.serving.local",
    "OpenAIChatModel": "shared.serving.openai_backend",
    "EfficientNetImageEmbedder": "shared.serving.vision",
    "ImageAnalysis": "shared.serving.vision",
    "ImageEmbedder": "shared.serving.vision",
    "TextTowerUnavailable": "shared.serving.vision",
    "build_image_embedder": "shared.serving.vision",
    "OpenClipImageEmbedder": "shared.serving.vision_clip",
    "OpenAIImageEmbedder": "shared.serving.vision_openai",
}

__all__ = [
    "ChatMessage",
    "ChatModel",
    "ChatRequest",
    "ChatResult",
    "EfficientNetImageEmbedder",
    "Embedder",
    "ImageAnalysis",
    "ImageEmbedder",
    "LocalChatModel",
    "ModelNotFoundError",
    "OpenAIChatModel",
    "OpenAIImageEmbedder",
    "OpenClipImageEmbedder",
    "Reranker",
    "ServingError",
    "StreamChunk",
    "TextTowerUnavailable",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "UsageTracker",
    "build_image_embedder",
    "generate_structured",
    "get_batch_chat_model",
    "get_chat_model",
    "get_embedder",
    "get_image_embedder",
    "get_reranker",
    "reset_serving_singletons",
    "track_usage",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'shared.serving' has no attribute {name!r}")
