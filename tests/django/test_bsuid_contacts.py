"""Business-scoped user ids (BSUIDs) in the Django app: contacts keyed by number, BSUID or
both (services/contact_identity.py), learned from messages and statuses, changed by Meta's
user_id_update, messaged by BSUID (send_message and the REST API) and covered by consent,
export and erasure."""

from __future__ import annotations

import importlib
import io
import json
import time
import zipfile

import pytest
from api_test_helpers import Api, member
from django.apps import apps
from wacloud_test_helpers import envelope, status_update

from wacloud import BusinessScopedUser
from wacloud.errors import InvalidParameter, InvalidPhoneNumber
from wacloud_django.models import AuditEntry, Contact, Message, WebhookEvent
from wacloud_django.services import privacy
from wacloud_django.services.contact_identity import Identity, contacts_for_many, recipient_of
from wacloud_django.services.outbound import ContactOptedOut, send_message

pytestmark = pytest.mark.django_db

NUMBER = "15550001111"
USER_ID = "US.13491208655302741918"
PARENT = "US.ENT.11815799212886844830"
NEW_USER_ID = "US.99990000111122223333"


def from_user(wamid: str, *, wa_id: str = "", user_id: str = "", parent: str = "", text: str = "hi") -> dict:
    """A text message webhook naming its sender by number, BSUID or both (Meta's 2026 shape)."""
    message = {"id": wamid, "timestamp": str(int(time.time())), "type": "text", "text": {"body": text}}
    contact: dict = {"profile": {"name": "Ana"}}
    if wa_id:
        message["from"] = contact["wa_id"] = wa_id
    if user_id:
        message["from_user_id"] = contact["user_id"] = user_id
    if parent:
        contact["parent_user_id"] = parent
    return envelope({"contacts": [contact], "messages": [message]})


def user_id_update(previous: str, current: str, wa_id: str | None = None, **extra) -> dict:
    entry = {"user_id": {"previous": previous, "current": current}, "timestamp": "1780000000", **extra}
    if wa_id:
        entry["wa_id"] = wa_id
    return envelope({"user_id_update": [entry]}, field="user_id_update")


def only_contact() -> Contact:
    (contact,) = Contact.objects.all()
    return contact


# -- contacts from webhooks ---------------------------------------------------------------------
def test_a_message_with_number_and_bsuid_makes_one_contact_holding_both(account, post_webhook):
    post_webhook(from_user("wamid.1", wa_id=NUMBER, user_id=USER_ID, parent=PARENT))
    contact = only_contact()
    assert (contact.wa_id, contact.user_id, contact.parent_user_id) == (NUMBER, USER_ID, PARENT)
    assert Message.objects.get(wamid="wamid.1").contact == contact


def test_a_user_who_hides_their_number_is_a_contact_by_bsuid_alone(account, post_webhook):
    post_webhook(from_user("wamid.1", user_id=USER_ID))
    post_webhook(from_user("wamid.2", user_id=USER_ID, text="again"))
    contact = only_contact()
    assert (contact.wa_id, contact.user_id, str(contact)) == ("", USER_ID, f"Ana ({USER_ID})")
    assert Message.objects.filter(contact=contact).count() == 2
    # Shared later (a number Meta may show): the same contact learns it.
    post_webhook(from_user("wamid.3", wa_id=NUMBER, user_id=USER_ID))
    assert (only_contact().wa_id, only_contact().user_id) == (NUMBER, USER_ID)


def test_two_users_known_by_bsuid_alone_are_two_contacts(account, post_webhook):
    post_webhook(from_user("wamid.1", user_id=USER_ID))
    post_webhook(from_user("wamid.2", user_id=NEW_USER_ID))
    assert sorted(Contact.objects.values_list("user_id", flat=True)) == sorted([USER_ID, NEW_USER_ID])


def test_a_contact_known_by_number_learns_its_bsuid_and_is_matched_by_it_afterwards(account, post_webhook):
    post_webhook(from_user("wamid.1", wa_id=NUMBER))
    post_webhook(from_user("wamid.2", wa_id=NUMBER, user_id=USER_ID))
    post_webhook(from_user("wamid.3", user_id=USER_ID))  # the number hidden since
    contact = only_contact()
    assert (contact.wa_id, contact.user_id) == (NUMBER, USER_ID)
    assert Message.objects.filter(contact=contact).count() == 3


def test_a_status_naming_the_recipients_bsuid_is_kept_on_its_contact(account, post_webhook):
    post_webhook(from_user("wamid.in", wa_id="972987654321"))
    inbound = Message.objects.get(wamid="wamid.in")
    Message.objects.create(
        account=account, wamid="wamid.out", direction="outbound", type="text", status="sent",
        conversation=inbound.conversation, contact=inbound.contact,
    )  # fmt: skip
    body = status_update("wamid.out", "delivered")
    body["entry"][0]["changes"][0]["value"]["statuses"][0]["recipient_user_id"] = USER_ID
    post_webhook(body)
    assert (only_contact().user_id, Message.objects.get(wamid="wamid.out").status) == (USER_ID, "delivered")


def test_user_id_update_moves_the_contact_to_its_new_bsuid_and_is_audited(account, post_webhook):
    post_webhook(from_user("wamid.1", user_id=USER_ID))
    response = post_webhook(user_id_update(USER_ID, NEW_USER_ID))
    assert response.status_code == 200
    assert WebhookEvent.objects.get(fields="user_id_update").status == WebhookEvent.Status.PROCESSED
    assert only_contact().user_id == NEW_USER_ID
    entry = AuditEntry.objects.get(action="contact.user_id_change")
    assert entry.changes == {"user_id": [USER_ID, NEW_USER_ID]}
    post_webhook(from_user("wamid.2", user_id=NEW_USER_ID))  # the next message finds the same contact
    assert Message.objects.filter(contact=only_contact()).count() == 2


def test_user_id_update_finds_a_contact_by_number_and_ignores_users_nobody_knows(account, post_webhook):
    post_webhook(from_user("wamid.1", wa_id=NUMBER))
    post_webhook(user_id_update(USER_ID, NEW_USER_ID, wa_id=NUMBER))
    post_webhook(user_id_update("US.1", "US.2"))  # nobody the account knows: nothing made up
    assert (only_contact().wa_id, only_contact().user_id) == (NUMBER, NEW_USER_ID)


def test_a_user_id_update_the_parser_cannot_read_is_an_item_error(account, post_webhook):
    post_webhook(envelope({"user_id_update": [{"user_id": "not an object"}]}, field="user_id_update"))
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.PARTIAL
    assert event.item_errors[0]["kind"] == "user_id_update"


def test_a_marketing_preference_of_a_user_known_by_bsuid_alone_is_recorded(account, post_webhook):
    from wacloud_django.automation.services.consent import current_consent

    preference = {"user_id": USER_ID, "category": "marketing_messages", "value": "stop", "timestamp": 1780}
    post_webhook(envelope({"user_preferences": [preference]}, field="user_preferences"))
    assert current_consent(only_contact())["marketing"] == "revoked"
    assert only_contact().wa_id == ""


def test_batches_match_contacts_as_one_message_at_a_time(account):
    known = Contact.objects.create(account=account, wa_id=NUMBER)
    wanted = {
        "by-number": (account, Identity(wa_id=NUMBER, user_id=USER_ID), {}),
        "by-bsuid": (account, Identity(user_id=USER_ID), {}),
        "new": (account, Identity(user_id=NEW_USER_ID), {"name": "Bo"}),
    }
    found = contacts_for_many(wanted)
    assert found["by-number"].pk == found["by-bsuid"].pk == known.pk
    known.refresh_from_db()
    assert known.user_id == USER_ID
    assert (found["new"].user_id, found["new"].wa_id, found["new"].name) == (NEW_USER_ID, "", "Bo")


def test_a_batch_of_webhooks_keys_contacts_as_one_event_at_a_time(
    account, post_webhook, settings, django_capture_on_commit_callbacks
):
    from batch_support import batch_mode, drain

    batch_mode(settings)
    post_webhook(from_user("wamid.1", wa_id=NUMBER))
    post_webhook(from_user("wamid.2", wa_id=NUMBER, user_id=USER_ID))
    post_webhook(from_user("wamid.3", user_id=USER_ID))  # the number hidden since
    post_webhook(from_user("wamid.4", user_id=NEW_USER_ID))
    drain(django_capture_on_commit_callbacks)
    assert set(Contact.objects.values_list("wa_id", "user_id")) == {(NUMBER, USER_ID), ("", NEW_USER_ID)}
    assert Message.objects.filter(contact__user_id=USER_ID).count() == 3


def test_ids_longer_than_metas_are_refused():
    with pytest.raises(Exception, match="user_id is 141 characters"):
        Identity(user_id="US." + "1" * 138).check()


def test_the_migration_moves_bsuids_stored_as_numbers(account):
    migration = importlib.import_module("wacloud_django.migrations.0013_contact_user_ids")
    Contact.objects.create(account=account, wa_id=USER_ID)  # how a BSUID-only user was stored before
    Contact.objects.create(account=account, wa_id=NUMBER)
    migration.move_user_ids(apps, None)
    assert set(Contact.objects.values_list("wa_id", "user_id")) == {("", USER_ID), (NUMBER, "")}


# -- sending ------------------------------------------------------------------------------------
def hidden_customer(sandbox, post_webhook) -> str:
    """A customer who hides their number writes in: the sandbox and our database see them by BSUID."""
    sandbox.inject_inbound(**{"from": NUMBER}, type="text", text="hello")
    sandbox.hide_number(NUMBER)
    user_id = sandbox.user(NUMBER)["user_id"]
    post_webhook(from_user("wamid.hidden", user_id=user_id))
    return user_id


def test_a_contact_known_by_bsuid_alone_is_sent_to_by_recipient(sandbox, account, post_webhook):
    user_id = hidden_customer(sandbox, post_webhook)
    message = send_message(account, BusinessScopedUser(user_id), "text", "Hi there", enqueue=False)
    assert message.status == Message.Status.SENT and message.contact.user_id == user_id
    (sent,) = sandbox.sent_messages()
    assert sent["payload"]["recipient"] == user_id and "to" not in sent["payload"]
    # An agent's reply from the contact (inbox, automation) goes the same way.
    assert recipient_of(message.contact) == BusinessScopedUser(user_id)
    reply = send_message(account, recipient_of(message.contact), "text", "More", enqueue=False)
    assert reply.contact == message.contact and reply.status == Message.Status.SENT


def test_a_contact_with_a_number_is_sent_to_by_number_even_named_by_bsuid(sandbox, account, post_webhook):
    sandbox.inject_inbound(**{"from": NUMBER}, type="text", text="hello")
    user_id = sandbox.user(NUMBER)["user_id"]
    post_webhook(from_user("wamid.both", wa_id=NUMBER, user_id=user_id))
    message = send_message(account, BusinessScopedUser(user_id), "text", "Hi", enqueue=False)
    (sent,) = sandbox.sent_messages()
    assert sent["payload"]["to"] == NUMBER and message.contact.wa_id == NUMBER


def test_a_task_queues_a_message_by_user_id(sandbox, account, post_webhook):
    from wacloud_django.services.recipients import queue_message

    user_id = hidden_customer(sandbox, post_webhook)
    message = queue_message(user_id=user_id, content="Hi")
    assert (message.contact.user_id, message.contact.wa_id, message.text) == (user_id, "", "Hi")
    with pytest.raises(InvalidParameter, match="exactly one of to"):
        queue_message(to=NUMBER, user_id=user_id, content="Hi")


def test_a_bsuid_written_as_a_number_is_refused_with_the_way_to_send_it(account):
    with pytest.raises(InvalidPhoneNumber, match="BusinessScopedUser"):
        send_message(account, USER_ID, "template", template_name="hello_world", template_language="en_US")
    with pytest.raises(InvalidParameter, match="business-scoped user id"):
        send_message(account, BusinessScopedUser("nope"), "text", "hi")
    assert not Message.objects.exists()


def test_consent_is_checked_on_the_contact_of_the_bsuid(sandbox, account, post_webhook):
    opted_out = Contact.objects.create(account=account, user_id=NEW_USER_ID, opted_out=True)
    user_id = hidden_customer(sandbox, post_webhook)
    assert send_message(account, BusinessScopedUser(user_id), "text", "ok", enqueue=False).status == "sent"
    with pytest.raises(ContactOptedOut, match=NEW_USER_ID):
        send_message(account, BusinessScopedUser(NEW_USER_ID), "template", template_name="hello_world",
                     template_language="en_US")  # fmt: skip
    assert not Message.objects.filter(contact=opted_out).exists()


def test_the_rest_api_sends_to_a_recipient_and_shows_contacts_by_bsuid(sandbox, account, post_webhook):
    user_id = hidden_customer(sandbox, post_webhook)
    api = Api(member(account, "admin"))
    response = api.post("send", {"recipient": user_id, "type": "text", "content": {"body": "Hi"}})
    assert response.status_code == 200, response.content
    (sent,) = sandbox.sent_messages()
    assert sent["payload"]["recipient"] == user_id
    contact = api.get("contacts", {"search": user_id}).json()["results"]
    assert [(c["wa_id"], c["user_id"]) for c in contact] == [("", user_id)]
    history = api.get(f"messages/{user_id}").json()["results"]
    assert {row["contact_user_id"] for row in history} == {user_id} and len(history) == 2


def test_the_help_desk_answers_a_user_known_by_bsuid_and_checks_agent_replies_by_it(
    sandbox, account, post_webhook, settings
):
    from test_helpdesk import enable

    from wacloud_django.models import Ticket

    enable(settings, LANGUAGE="pt")
    user_id = hidden_customer(sandbox, post_webhook)  # opens ticket 1; its confirmation goes by BSUID
    assert Ticket.objects.get().contact.user_id == user_id
    (confirmation,) = sandbox.sent_messages(to=user_id)
    assert confirmation["payload"]["recipient"] == user_id
    api = Api(member(account, "agent"))
    reply = {"type": "text", "content": {"text": "Vamos ver"}, "ticketId": "1"}
    refused = api.post("send", {**reply, "recipient": NEW_USER_ID})
    assert refused.status_code == 400 and f"conversation with {user_id}" in refused.json()["error"]
    assert api.post("send", {**reply, "recipient": user_id}).status_code == 200


def test_the_rest_api_refuses_both_recipients_or_a_malformed_one(account):
    api = Api(member(account, "admin"))
    both = api.post("send", {"to": NUMBER, "recipient": USER_ID, "type": "text", "content": {"body": "x"}})
    bad = api.post("send", {"recipient": "15550001111", "type": "text", "content": {"body": "x"}})
    assert (both.status_code, bad.status_code) == (400, 400)
    assert "recipient" in json.dumps(bad.json()) and not Message.objects.exists()


def test_the_rest_api_creates_a_contact_by_bsuid(account):
    api = Api(member(account, "admin"))
    response = api.post("contacts", {"user_id": USER_ID, "name": "Ana"})
    assert response.status_code == 201, response.content
    assert response.json()["contact"]["user_id"] == USER_ID and only_contact().wa_id == ""


# -- privacy ------------------------------------------------------------------------------------
def test_export_names_the_bsuids_and_erasure_pseudonymizes_them(account, post_webhook):
    post_webhook(from_user("wamid.1", user_id=USER_ID, parent=PARENT))
    post_webhook(from_user("wamid.2", user_id=NEW_USER_ID))
    contact = Contact.objects.get(user_id=USER_ID)
    document = json.loads(zipfile.ZipFile(io.BytesIO(privacy.export_contact(contact))).read("contact.json"))
    assert (document["contact"]["user_id"], document["contact"]["parent_user_id"]) == (USER_ID, PARENT)

    counts = privacy.erase_contact(contact)
    contact.refresh_from_db()
    assert contact.user_id.startswith(privacy.PSEUDONYM_PREFIX) and contact.parent_user_id == ""
    assert counts["pseudonym"] == contact.user_id and privacy.is_erased(contact)
    # The webhook body that named the BSUID is gone; the other user's stays.
    assert counts["webhook_events_deleted"] == 1 and WebhookEvent.objects.count() == 1
    assert privacy.find_erased_contact(account.pk, USER_ID) == contact
    assert privacy.find_contact(NEW_USER_ID).user_id == NEW_USER_ID
    # A second user known by BSUID alone is erased too (pseudonyms of a blank number never collide).
    privacy.erase_contact(Contact.objects.get(user_id=NEW_USER_ID))
    assert Contact.objects.filter(user_id__startswith=privacy.PSEUDONYM_PREFIX).count() == 2


def test_logs_mask_bsuids_as_they_mask_numbers():
    from wacloud_django.log_privacy import mask_phone, redact

    assert redact(f"message to {USER_ID} from {PARENT}") == "message to US.****18 from US.ENT.****30"
    assert redact("OK.Thanks, wacloud.inbound") == "OK.Thanks, wacloud.inbound"  # words stay
    assert mask_phone(USER_ID) == "US.****18"  # consent refusals log the recipient so
