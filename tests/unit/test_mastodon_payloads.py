"""Mastodon statuses become clean, correctly typed messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fakes.mastodon import status_html
from services.inbox.domain.html_text import html_to_text
from services.inbox.domain.mastodon import id_key, link_params, reset_at, status_message


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Hello &amp; welcome</p>", "Hello & welcome"),
        (
            "<p>line one<br>line two</p><p>second paragraph</p>",
            "line one\nline two\n\nsecond paragraph",
        ),
        (
            '<p><span class="h-card"><a href="https://m.example/@acme" '
            'class="u-url mention">@<span>acme</span></a></span> my box is down</p>',
            "@acme my box is down",
        ),
        (
            '<p><a href="https://example.com/very/long/path" rel="nofollow">'
            '<span class="invisible">https://</span><span class="ellipsis">example.com/very</span>'
            '<span class="invisible">'
            "/long/path</span></a></p>",
            "example.com/very",
        ),
        ("no markup at all", "no markup at all"),
        ("<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>", "<script>alert(1)</script>"),
    ],
)
def test_html_becomes_the_text_people_wrote(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_the_fakes_rendering_reads_back_as_written() -> None:
    written = 'Box en panne depuis ce matin, c\'est "urgent" & grave\nmerci'
    assert html_to_text(status_html(written)) == written


def _status(**extra: object) -> dict[str, object]:
    status: dict[str, object] = {
        "id": "109876543210",
        "created_at": "2024-05-13T10:30:00.000Z",
        "visibility": "public",
        "in_reply_to_id": None,
        "language": "fr",
        "content": "<p>@acme ma box ne marche plus</p>",
        "account": {"id": "42", "acct": "jane@piaille.fr", "display_name": "Jane"},
    }
    status.update(extra)
    return status


def test_a_public_mention() -> None:
    m = status_message(_status(), "masto", brand_account_id="1")
    assert (m.platform, m.external_id, m.kind, m.direction) == (
        "mastodon",
        "109876543210",
        "mention",
        "in",
    )
    assert (m.author_external_id, m.author_handle, m.text) == (
        "42",
        "jane@piaille.fr",
        "@acme ma box ne marche plus",
    )
    assert m.created_at == datetime(2024, 5, 13, 10, 30, tzinfo=UTC)


def test_direct_visibility_is_a_dm_and_a_reply_keeps_its_parent() -> None:
    assert status_message(_status(visibility="direct"), "m", "1").kind == "dm"
    reply = status_message(_status(in_reply_to_id="55"), "m", "1")
    assert (reply.kind, reply.in_reply_to) == ("reply", "55")


def test_the_brands_own_status_is_outbound() -> None:
    own = _status(account={"id": "1", "acct": "acme"})
    assert status_message(own, "m", brand_account_id="1").direction == "out"


def test_link_header_and_rate_limit_reset() -> None:
    header = (
        '<https://m.example/api/v1/notifications?max_id=7>; rel="next", '
        '<https://m.example/api/v1/notifications?min_id=9>; rel="prev"'
    )
    assert link_params(header) == {
        "next": "https://m.example/api/v1/notifications?max_id=7",
        "prev": "https://m.example/api/v1/notifications?min_id=9",
    }
    now = datetime(2024, 5, 13, tzinfo=UTC)
    assert reset_at("2024-05-13T10:05:00.000Z", now) == datetime(2024, 5, 13, 10, 5, tzinfo=UTC)
    assert reset_at("1715594700", now) == datetime.fromtimestamp(1715594700, UTC)
    assert reset_at("soon", now) is None
    assert sorted(["10", "9", "100"], key=id_key) == ["9", "10", "100"]
