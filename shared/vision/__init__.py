"""Image input and cheap vision features shared by projects (multimodal search, content moderation)."""
