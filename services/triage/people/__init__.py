"""People: who is behind a conversation, on every channel of the workspace."""
