"""Delivering agents' replies to the platforms, at most one post per reply."""
