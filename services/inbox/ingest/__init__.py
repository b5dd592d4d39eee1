"""Ingest: ``POST /v1/ingest``, ingest tokens, and storing a batch of messages exactly once."""
