"""Shared infrastructure of both services: settings, database, events, auth, HTTP, logs, metrics.

Nothing here knows what a message, a conversation or a platform is.
"""
