"""Which conversation a message belongs to: a pure rule over ids the platforms give us.

A conversation is identified inside its channel by a thread key:
- a DM belongs to its DM conversation (the platform's id, else the customer's id);
- a reply to a message we know joins that message's conversation;
- else the platform's thread id (X conversation_id, Bluesky root uri) names it;
- else the message it answers roots it (so siblings that arrive before it still meet);
- else the message starts its own conversation.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.inbox.domain.messages import Incoming


def conversation_kind(message: Incoming) -> str:
    """``dm`` for private conversations, ``public`` for threads anyone can read."""
    return "dm" if message.kind == "dm" else "public"


def thread_key(message: Incoming, parent_key: str | None) -> str:
    """The thread key of ``message``; ``parent_key`` is that of the message it answers, if known."""
    if message.kind == "dm":
        return "dm:" + (message.thread_id or message.author_external_id)
    if parent_key is not None:
        return parent_key
    if message.thread_id:
        return "t:" + message.thread_id
    if message.in_reply_to:
        return "t:" + message.in_reply_to
    return "t:" + message.external_id


def thread_keys(
    messages: list[Incoming], known_parents: Mapping[tuple[str, str, str], str]
) -> list[str]:
    """Thread keys for a batch, in its order.

    ``known_parents`` maps (platform, channel, external id) of already stored messages to their
    thread keys. Messages are placed oldest first so a reply in the same batch finds its parent.
    """
    keys: dict[tuple[str, str, str], str] = dict(known_parents)
    result: list[str] = [""] * len(messages)
    order = sorted(range(len(messages)), key=lambda i: messages[i].created_at)
    for index in order:
        message = messages[index]
        parent = None
        if message.in_reply_to:
            parent = keys.get((message.platform, message.channel, message.in_reply_to))
        key = thread_key(message, parent)
        keys[(message.platform, message.channel, message.external_id)] = key
        result[index] = key
    return result
