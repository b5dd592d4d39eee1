"""Channel credentials, looked up by reference: never stored in the database, never logged.

A channel names its credentials (``credentials_ref``); the values come from the environment
(``INBOX_CHANNEL_CREDENTIALS``: a JSON object ref → credentials) or from a directory of
``<ref>.json`` files (``INBOX_CHANNEL_CREDENTIALS_DIR``, e.g. a Kubernetes Secret volume),
read at each use so a rotated secret takes effect without a restart.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson

from services.inbox.connectors.base import AuthExpired

_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class CredentialStore:
    def __init__(
        self, inline: dict[str, dict[str, Any]] | None = None, directory: Path | None = None
    ) -> None:
        self._inline = inline or {}
        self._directory = directory

    @classmethod
    def from_settings(cls, inline_json: str, directory: str) -> CredentialStore:
        inline = orjson.loads(inline_json) if inline_json.strip() else {}
        if not isinstance(inline, dict):
            raise ValueError("INBOX_CHANNEL_CREDENTIALS must be a JSON object")
        return cls(inline, Path(directory) if directory else None)

    def get(self, ref: str) -> dict[str, Any]:
        """The credentials named ``ref``; ``AuthExpired`` when there are none (re-authorise)."""
        if not _REF.fullmatch(ref):
            raise AuthExpired("the channel names no valid credentials reference")
        if ref in self._inline:
            return dict(self._inline[ref])
        if self._directory is not None:
            path = self._directory / f"{ref}.json"
            if path.is_file():
                found = orjson.loads(path.read_bytes())
                if isinstance(found, dict):
                    return found
        raise AuthExpired(f"no credentials named {ref!r}")

    def redact(self, ref: str, detail: str) -> str:
        """``detail`` without the values of credentials ``ref``: a platform's error may quote
        what it was sent, and failure details are stored and shown to agents."""
        try:
            values = [v for v in self.get(ref).values() if isinstance(v, str) and len(v) >= 6]
        except (AuthExpired, ValueError, OSError):
            return detail
        for value in sorted(values, key=len, reverse=True):
            detail = detail.replace(value, "[redacted]")
        return detail
