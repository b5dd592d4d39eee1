"""Constraints every stored string shares.

Postgres text cannot hold NUL (U+0000): a string carrying one is refused as invalid input
(422 naming the field) rather than reaching the database and failing there as a 500.
The pattern runs in pydantic's Rust core, like the length limits.
"""

from __future__ import annotations

NO_NUL = r"^[^\x00]*$"
