"""Channel credentials, each workspace's own: never stored in the database, never logged.

A channel names its credentials (``credentials_ref``), and the name is looked up in the
channel's own workspace only: another workspace's reference does not exist for it, whatever
it is called. The values come from the environment (``INBOX_CHANNEL_CREDENTIALS``: a JSON
object workspace id → {reference → credentials}) or from a directory of
``<workspace id>.<reference>.json`` files (``INBOX_CHANNEL_CREDENTIALS_DIR``, e.g. a
Kubernetes Secret volume), read at each use so a rotated secret takes effect without a
restart. They are handed out only for a channel whose base URL is an API host of its
platform (``domain/endpoints.py``), checked again at every use.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from services.inbox.connectors.base import AuthExpired, Channel
from services.inbox.domain.endpoints import PlatformHosts
from services.inbox.settings import InboxSettings

_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

Namespaces = Mapping[str, Mapping[str, Mapping[str, Any]]]
"""workspace id → reference → credentials."""


class NotAllowed(AuthExpired):
    """The inbox refuses the channel's connection itself (no such credentials in its
    workspace, or a base URL that is no API host of its platform): a person must reconnect
    it. The detail is the inbox's own words, never a secret, so it may be shown."""


def _namespaces(inline: Namespaces) -> dict[uuid.UUID, dict[str, dict[str, Any]]]:
    """``inline`` keyed by workspace id; ValueError naming what is wrong."""
    found: dict[uuid.UUID, dict[str, dict[str, Any]]] = {}
    for workspace, refs in inline.items():
        try:
            workspace_id = uuid.UUID(str(workspace))
        except ValueError:
            raise ValueError(
                "INBOX_CHANNEL_CREDENTIALS: each key is a workspace id "
                '({"<workspace id>": {"<reference>": {…credentials…}}})'
            ) from None
        if not isinstance(refs, Mapping) or not all(isinstance(v, Mapping) for v in refs.values()):
            raise ValueError(
                f"INBOX_CHANNEL_CREDENTIALS: workspace {workspace_id} must map references to "
                "objects of credentials"
            )
        found[workspace_id] = {str(ref): dict(values) for ref, values in refs.items()}
    return found


class CredentialStore:
    def __init__(
        self,
        inline: Namespaces | None = None,
        directory: Path | None = None,
        hosts: PlatformHosts | None = None,
    ) -> None:
        self._inline = _namespaces(inline or {})
        self._directory = directory
        self.hosts = hosts or PlatformHosts()

    @classmethod
    def from_settings(cls, settings: InboxSettings) -> CredentialStore:
        raw = settings.channel_credentials.get_secret_value()
        inline = orjson.loads(raw) if raw.strip() else {}
        if not isinstance(inline, dict):
            raise ValueError("INBOX_CHANNEL_CREDENTIALS must be a JSON object")
        directory = settings.channel_credentials_dir
        return cls(inline, Path(directory) if directory else None, settings.platform_hosts())

    def get(self, workspace_id: uuid.UUID, ref: str) -> dict[str, Any]:
        """The credentials ``ref`` of this workspace; ``NotAllowed`` when it has none."""
        if not _REF.fullmatch(ref):
            raise NotAllowed("the channel names no valid credentials reference")
        own = self._inline.get(workspace_id, {})
        if ref in own:
            return dict(own[ref])
        if self._directory is not None:
            path = self._directory / f"{workspace_id}.{ref}.json"
            if path.is_file():
                found = orjson.loads(path.read_bytes())
                if isinstance(found, dict):
                    return found
        raise NotAllowed(f"this workspace has no credentials named {ref!r}")

    def exists(self, workspace_id: uuid.UUID, ref: str) -> bool:
        try:
            self.get(workspace_id, ref)
        except (NotAllowed, ValueError, OSError):
            return False
        return True

    def for_channel(self, channel: Channel) -> dict[str, Any]:
        """The channel's credentials, if its base URL may receive them: the one way the
        poller and the delivery get secrets (``NotAllowed`` otherwise)."""
        refusal = self.hosts.refusal(channel.platform, channel.base_url)
        if refusal is not None:
            raise NotAllowed(f"base_url refused: {refusal}")
        return self.get(channel.workspace_id, channel.credentials_ref)

    def redact(self, channel: Channel, detail: str) -> str:
        """``detail`` without the values of the channel's credentials: a platform's error may
        quote what it was sent, and failure details are stored and shown to agents."""
        try:
            credentials = self.get(channel.workspace_id, channel.credentials_ref)
        except (AuthExpired, ValueError, OSError):
            return detail
        values = [v for v in credentials.values() if isinstance(v, str) and len(v) >= 6]
        for value in sorted(values, key=len, reverse=True):
            detail = detail.replace(value, "[redacted]")
        return detail
