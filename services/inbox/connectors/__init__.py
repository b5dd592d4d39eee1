"""Connectors: one per platform, each a thin HTTP client around pure normalisation.

A connector polls streams page by page and sends replies; it raises the errors in
``base`` so the poller and the delivery loop treat every platform alike.
"""
