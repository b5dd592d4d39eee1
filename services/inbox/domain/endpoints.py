"""Where a channel may send its credentials: its platform's real API hosts, over https.

A channel's base URL decides which host receives its bearer token, so it is checked when the
channel is connected and again before every poll and delivery (a row written before the
rule, or by hand, is refused too). X and Meta have fixed hosts; Mastodon is federated, so its
instances are the ones the operator lists (none by default), and the operator may add
self-hosted Bluesky servers. The local fake platforms (``http://127.0.0.1:…``) pass only when
development allows them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_META = frozenset({"graph.facebook.com", "graph.instagram.com"})
API_HOSTS: Mapping[str, frozenset[str]] = {
    "x": frozenset({"api.x.com", "api.twitter.com"}),
    "facebook": _META,
    "instagram": _META,
    "messenger": _META,
    "whatsapp": frozenset({"graph.facebook.com"}),
    "threads": frozenset({"graph.threads.net"}),
    "youtube": frozenset({"www.googleapis.com", "youtube.googleapis.com"}),
    # The entryway and Bluesky's own PDSes (app-password sign-in), and the AppView.
    "bluesky": frozenset(
        {"bsky.social", "*.host.bsky.network", "api.bsky.app", "public.api.bsky.app"}
    ),
    "mastodon": frozenset(),  # federated: only the instances an operator lists
}
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def host_list(text: str) -> frozenset[str]:
    """A comma-separated list of hosts (``a.example, *.b.example``), lower-cased."""
    return frozenset(h.strip().lower().rstrip(".") for h in text.split(",") if h.strip())


def _matches(host: str, allowed: Iterable[str]) -> bool:
    """``host`` is one of ``allowed``; ``*.example.org`` stands for any host under it."""
    for entry in allowed:
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and len(host) > len(entry) - 1:
                return True
        elif host == entry:
            return True
    return False


@dataclass(frozen=True)
class PlatformHosts:
    """The hosts each platform's channels may name: the built-in API hosts, the operator's
    additions (``extra``: platform → hosts), and loopback in development."""

    extra: Mapping[str, frozenset[str]] = field(default_factory=dict)
    allow_local: bool = False

    def allowed(self, platform: str) -> frozenset[str]:
        return API_HOSTS.get(platform, frozenset()) | self.extra.get(platform, frozenset())

    def refusal(self, platform: str, base_url: str) -> str | None:
        """Why ``base_url`` may not receive ``platform`` credentials; None when it may."""
        if any(c <= " " or c in "\\\x7f" for c in base_url):
            return "a URL with spaces, control characters or backslashes"
        try:
            parts = urlsplit(base_url)
            host, port = (parts.hostname or "").rstrip("."), parts.port
        except ValueError:
            return "not a URL"
        if parts.username is not None or parts.password is not None:
            return "a URL with a user name or password"
        if parts.query or parts.fragment:
            return "a URL with a query or fragment"
        if self.allow_local and host in LOCAL_HOSTS and parts.scheme in ("http", "https"):
            return None
        if parts.scheme != "https":
            return "https only"
        if port not in (None, 443):
            return "the platform's API answers on port 443 only"
        if _matches(host, self.allowed(platform)):
            return None
        if not API_HOSTS.get(platform):
            return f"{host or 'no host'} is not one of the {platform} servers the operator allows"
        known = ", ".join(sorted(API_HOSTS[platform]))
        return f"{host or 'no host'} is not an API host of {platform} ({known})"
