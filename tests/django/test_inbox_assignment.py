"""Assigning a conversation from the chat page (services.assignment): agents and above assign
to a member of their organization who may reply, or to nobody; "mine" in the list follows;
nobody reaches another organization's conversation or assigns to a stranger."""

from __future__ import annotations

import pytest
from api_support import member, tenant_a, tenant_b

from wacloud_django.automation.models import Escalation
from wacloud_django.models import AuditEntry, Conversation

pytestmark = pytest.mark.django_db
INBOX = "/inbox/"


@pytest.fixture
def tenants(sandbox):
    return tenant_a(), tenant_b()


def assign(client, conversation, assignee) -> str:
    """POST the chat's assign form; the page it lands on, with its flash message."""
    value = "" if assignee is None else str(getattr(assignee, "pk", assignee))
    response = client.post(f"{INBOX}c/{conversation.pk}/assign/", {"assignee": value}, follow=True)
    assert response.redirect_chain[-1][0] == f"{INBOX}c/{conversation.pk}/"
    return response.content.decode()


def assignee_of(conversation) -> int | None:
    return Conversation.objects.get(pk=conversation.pk).assignee_id


def listed(client, query: str = "mine=1") -> str:
    return client.get(f"{INBOX}?{query}").content.decode()


def test_an_agent_assigns_and_unassigns_and_mine_follows(client, tenants):
    a, _ = tenants
    agent = member(a.organization, "agent")
    colleague = member(a.organization, "marketer")
    client.force_login(agent)
    chat = client.get(f"{INBOX}c/{a.conversation.pk}/").content.decode()
    assert 'name="assignee"' in chat and "Assign to me" in chat and colleague.username in chat
    assert "org-a contact" not in listed(client)

    page = assign(client, a.conversation, agent)
    assert f"Assigned to {agent.username}." in page
    assert assignee_of(a.conversation) == agent.pk
    assert "org-a contact" in listed(client) and f"assigned to {agent.username}" in listed(client, "")
    entry = AuditEntry.objects.filter(action="conversation.assign").latest("pk")
    assert entry.actor == agent and entry.source == "web" and entry.changes == {"assignee": [None, agent.pk]}

    assign(client, a.conversation, colleague)
    assert "org-a contact" not in listed(client)
    client.force_login(colleague)
    assert "org-a contact" in listed(client)

    assert "Unassigned." in assign(client, a.conversation, None)
    assert assignee_of(a.conversation) is None and "org-a contact" not in listed(client)
    assert AuditEntry.objects.filter(action="conversation.unassign").exists()


def test_the_open_escalation_follows_the_assignment(client, tenants):
    """Before any assignment the escalation's assignee is the conversation's; after it, both agree."""
    a, _ = tenants
    agent, other = member(a.organization, "agent"), member(a.organization, "admin")
    escalation = Escalation.objects.create(
        organization=a.organization, conversation=a.conversation, assigned_to=other
    )
    client.force_login(other)
    assert "org-a contact" in listed(client)
    client.force_login(agent)
    assert "org-a contact" not in listed(client)
    assign(client, a.conversation, agent)
    escalation.refresh_from_db()
    assert escalation.assigned_to == agent and "org-a contact" in listed(client)


def test_a_viewer_sees_the_assignee_but_cannot_assign(client, tenants):
    a, _ = tenants
    agent = member(a.organization, "agent")
    Conversation.objects.filter(pk=a.conversation.pk).update(assignee=agent)
    client.force_login(member(a.organization, "viewer"))
    chat = client.get(f"{INBOX}c/{a.conversation.pk}/").content.decode()
    assert agent.username in chat and 'name="assignee"' not in chat
    response = client.post(f"{INBOX}c/{a.conversation.pk}/assign/", {"assignee": ""})
    assert response.status_code == 403 and assignee_of(a.conversation) == agent.pk


def test_only_members_who_may_reply_can_be_assigned(client, tenants, django_user_model):
    a, b = tenants
    client.force_login(member(a.organization, "agent"))
    refused = {
        "B's agent": member(b.organization, "agent"),
        "A's viewer": member(a.organization, "viewer"),
        "an inactive agent": member(a.organization, "agent", "org-a-gone", is_active=False),
        "a user of no organization": django_user_model.objects.create_user("loner"),
    }
    for who, user in refused.items():
        page = assign(client, a.conversation, user)
        assert f"Not assigned: user {user.pk} is not a member of ORG-A who may reply" in page, who
        assert user.username not in page.split("Assigned to")[0], who  # no other tenant's names
    missing = assign(client, a.conversation, 999_999)
    assert "Not assigned: user 999999 is not a member of ORG-A who may reply" in missing
    assert "is not a user id" in assign(client, a.conversation, "²")
    assert assignee_of(a.conversation) is None
    assert not AuditEntry.objects.filter(action="conversation.assign").exists()


def test_another_organizations_conversation_is_404(client, tenants):
    a, b = tenants
    agent = member(a.organization, "admin")
    client.force_login(agent)
    response = client.post(f"{INBOX}c/{b.conversation.pk}/assign/", {"assignee": agent.pk})
    assert response.status_code == 404 and assignee_of(b.conversation) is None
    b_agent = member(b.organization, "agent")
    response = client.post(f"{INBOX}c/{b.conversation.pk}/assign/", {"assignee": b_agent.pk})
    assert response.status_code == 404 and assignee_of(b.conversation) is None


def test_assigning_pushes_a_live_event_after_the_commit(
    tenants, monkeypatch, django_capture_on_commit_callbacks
):
    from wacloud_django.services import live_updates
    from wacloud_django.services.assignment import assign_conversation

    a, _ = tenants
    agent = member(a.organization, "agent")
    pushed = []
    monkeypatch.setattr(
        live_updates, "publish", lambda organization, event: pushed.append((organization, event))
    )
    with django_capture_on_commit_callbacks(execute=True):
        assign_conversation(a.conversation, agent)
        assert pushed == []  # not before the commit
    assert pushed == [(a.organization.pk, {"event": "conversation", "conversation": a.conversation.pk,
                                           "change": "assigned", "assignee": agent.pk})]  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        assign_conversation(a.conversation, agent)  # no change: no event
        assign_conversation(a.conversation, None)
    assert pushed[1:] == [(a.organization.pk, {"event": "conversation", "conversation": a.conversation.pk,
                                               "change": "unassigned", "assignee": None})]  # fmt: skip


def test_the_api_assigns_through_the_same_service(client, tenants):
    from api_support import Api, error_code

    a, b = tenants
    agent, colleague = member(a.organization, "agent"), member(a.organization, "admin")
    api = Api(client, agent)
    path = f"conversations/{a.conversation.pk}/assign"
    answer = api.post(path, {"assignee": colleague.pk})
    assert answer.status_code == 200, answer.content
    assert answer.json()["assignee"] == {"id": colleague.pk, "username": colleague.username}
    assert assignee_of(a.conversation) == colleague.pk
    assert AuditEntry.objects.filter(action="conversation.assign", source="api").exists()
    stranger = member(b.organization, "agent")
    refused = api.post(path, {"assignee": stranger.pk})
    assert refused.status_code == 400 and error_code(refused) == "INVALID_ASSIGNEE"
    assert stranger.username not in refused.content.decode()
    assert error_code(api.post(path, {"assignee": "x"})) == "VALIDATION_ERROR"
    assert api.post(path, {"assignee": None}).json()["assignee"] is None
    assert assignee_of(a.conversation) is None
    assert api.post(f"conversations/{b.conversation.pk}/assign", {"assignee": None}).status_code == 404
    viewer = Api(client, member(a.organization, "viewer"))
    assert viewer.post(path, {"assignee": agent.pk}).status_code == 403
    assert assignee_of(a.conversation) is None
