"""Code assistant: repo-aware Q&A, FIM completion, a sandboxed debug loop, documentation and review."""
