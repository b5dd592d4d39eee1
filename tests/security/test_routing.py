"""Assignment across workspaces and roles: another workspace's conversation or user is not
found, and an agent moves only what they hold."""

from __future__ import annotations

from tests.security.conftest import Worlds
from tests.support.world import bearer


async def test_another_workspaces_conversation_or_user_is_not_found(worlds: Worlds) -> None:
    a, b = worlds.a, worlds.b
    theirs = await worlds.triage.post(
        f"/v1/conversations/{a.conversation}/assign",
        headers=bearer(b.lead),
        json={"user_id": b.spare_user_id},
    )
    to_stranger = await worlds.triage.post(
        f"/v1/conversations/{b.conversation}/assign",
        headers=bearer(b.lead),
        json={"user_id": a.spare_user_id},
    )
    skills = await worlds.triage.put(
        f"/v1/users/{a.spare_user_id}/routing", headers=bearer(b.lead), json={"languages": ["fr"]}
    )
    assert theirs.status == to_stranger.status == skills.status == 404
    # The same calls within B go through: the 404s above are the workspace's doing.
    own = await worlds.triage.post(
        f"/v1/conversations/{b.conversation}/assign",
        headers=bearer(b.lead),
        json={"user_id": b.spare_user_id},
    )
    assert own.status == 200, await own.text()


async def test_an_agent_assigning_what_they_do_not_hold_is_forbidden(worlds: Worlds) -> None:
    b = worlds.b
    refused = await worlds.triage.post(
        f"/v1/conversations/{b.split_conversation}/assign",
        headers=bearer(b.agent),
        json={"user_id": b.spare_user_id},
    )
    assert refused.status == 403
    view = await worlds.triage.get(
        f"/v1/conversations/{b.split_conversation}", headers=bearer(b.lead)
    )
    assert (await view.json())["assignee_id"] != b.spare_user_id
