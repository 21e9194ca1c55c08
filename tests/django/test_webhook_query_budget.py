"""How many SQL queries one webhook costs, pinned so a new receiver or lookup that
queries when it has nothing to do is noticed (benchmarks/bench_webhooks.py measures
the same two webhooks' cost in time). The budgets are today's counts inside a test
transaction: raise them only for a query the feature really needs."""

from __future__ import annotations

from wacloud_test_helpers import status_update, text_message

from wacloud_django.models import Conversation, Message

#: A returning customer's text message: intake (account lookup, event insert), processing
#: (claim, contact, conversation, message, counters) and every feature's receiver.
INBOUND_TEXT_BUDGET = 23
#: A delivery status for a stored outbound message.
STATUS_BUDGET = 13


def test_an_inbound_text_message_webhook_stays_within_its_query_budget(
    account, post_webhook, django_assert_max_num_queries
):
    post_webhook(text_message("wamid.first", "hi"))  # the contact and conversation exist from here on
    with django_assert_max_num_queries(INBOUND_TEXT_BUDGET):
        response = post_webhook(text_message("wamid.second", "hello again", timestamp=1697043300))
    assert response.status_code == 200
    message = Message.objects.get(wamid="wamid.second")
    assert (message.account, message.text, message.contact.wa_id) == (account, "hello again", "972987654321")
    assert Conversation.objects.get().unread_count == 2


def test_a_status_webhook_stays_within_its_query_budget(account, post_webhook, django_assert_max_num_queries):
    post_webhook(text_message("wamid.in", "hi"))
    inbound = Message.objects.get(wamid="wamid.in")
    Message.objects.create(
        account=account, wamid="wamid.out", direction="outbound", type="text", status="sent",
        conversation=inbound.conversation, contact=inbound.contact,
    )  # fmt: skip
    with django_assert_max_num_queries(STATUS_BUDGET):
        response = post_webhook(status_update("wamid.out", "delivered"))
    assert response.status_code == 200
    assert Message.objects.get(wamid="wamid.out").status == "delivered"
