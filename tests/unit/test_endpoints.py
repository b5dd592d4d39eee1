"""Which base URLs may receive a platform's credentials (services/inbox/domain/endpoints.py)."""

from __future__ import annotations

import pytest

from services.inbox.domain.endpoints import PlatformHosts, host_list

OPERATOR = PlatformHosts(
    {"mastodon": host_list("mastodon.social, *.acme.social"), "bluesky": host_list("pds.acme.io")}
)
DEVELOPMENT = PlatformHosts(OPERATOR.extra, allow_local=True)

ALLOWED = [
    ("x", "https://api.x.com"),
    ("x", "https://api.twitter.com/"),
    ("x", "https://API.X.COM:443"),
    ("facebook", "https://graph.facebook.com/v19.0"),
    ("messenger", "https://graph.facebook.com"),
    ("instagram", "https://graph.instagram.com"),
    ("threads", "https://graph.threads.net"),
    ("bluesky", "https://bsky.social"),
    ("bluesky", "https://morel.us-east.host.bsky.network"),
    ("bluesky", "https://pds.acme.io"),
    ("mastodon", "https://mastodon.social"),
    ("mastodon", "https://care.acme.social"),
]

REFUSED = [
    ("x", "http://api.x.com", "https only"),
    ("x", "https://api.x.com:8443", "port 443"),
    ("x", "https://user:pw@api.x.com", "user name"),
    ("x", "https://api.x.com@attacker.example", "user name"),
    ("x", "https://api.x.com\\@attacker.example", "backslashes"),
    ("x", "https://api.x.com\t.attacker.example", "control characters"),
    ("x", "https://api.x.com?u=https://attacker.example", "query"),
    ("x", "https://attacker.example#api.x.com", "fragment"),
    ("x", "https://api.x.com.attacker.example", "not an API host of x"),
    ("x", "https://graph.facebook.com", "not an API host of x"),
    ("facebook", "https://api.x.com", "not an API host of facebook"),
    ("threads", "https://graph.facebook.com", "not an API host of threads"),
    ("bluesky", "https://host.bsky.network", "not an API host of bluesky"),
    ("bluesky", "https://evilhost.bsky.network", "not an API host of bluesky"),
    ("mastodon", "https://acme.social", "operator allows"),
    ("mastodon", "https://attacker.example", "operator allows"),
    ("x", "http://127.0.0.1:8090", "https only"),
    ("mastodon", "https://localhost", "operator allows"),
    ("x", "https://api.x.com:99999", "not a URL"),
    ("x", "not-a-url", "https only"),
]


@pytest.mark.parametrize(("platform", "url"), ALLOWED)
def test_the_platforms_api_hosts_are_allowed(platform: str, url: str) -> None:
    assert OPERATOR.refusal(platform, url) is None
    assert DEVELOPMENT.refusal(platform, url) is None


@pytest.mark.parametrize(("platform", "url", "why"), REFUSED)
def test_any_other_url_is_refused_with_a_reason(platform: str, url: str, why: str) -> None:
    refusal = OPERATOR.refusal(platform, url)
    assert refusal is not None and why in refusal


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8090", "http://localhost:1234/", "https://[::1]:9000"]
)
def test_loopback_only_in_development(url: str) -> None:
    assert DEVELOPMENT.refusal("x", url) is None
    assert OPERATOR.refusal("x", url) is not None


@pytest.mark.parametrize(
    "url", ["http://10.0.0.5", "http://169.254.169.254", "http://127.0.0.2:80", "ftp://127.0.0.1"]
)
def test_development_allows_loopback_not_the_rest_of_the_network(url: str) -> None:
    assert DEVELOPMENT.refusal("mastodon", url) is not None


def test_the_operators_mastodon_list_is_not_disclosed() -> None:
    """Other tenants' instances are the operator's business: a refusal names none of them."""
    refusal = OPERATOR.refusal("mastodon", "https://attacker.example")
    assert refusal is not None and "mastodon.social" not in refusal and "acme" not in refusal
