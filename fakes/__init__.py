"""Local fake platform servers speaking the real wire formats, for tests and the demo."""
