"""services/rows.py: the intake's precompiled statements give what the ORM gives."""

from __future__ import annotations

import pytest
from django.db.models import Q
from django.forms.models import model_to_dict

from wacloud_django.models import BusinessAccount, WebhookEvent
from wacloud_django.services.rows import insert_or_get_now, rows_matching_any
from wacloud_django.services.webhooks import record_webhook_event


def _as_orm(model, **columns):
    matching = Q()
    for name, values in columns.items():
        matching |= Q(**{f"{name}__in": list(values)})
    return list(model.objects.filter(matching).order_by("pk"))


def _fields(row):
    return {field.attname: getattr(row, field.attname) for field in row._meta.concrete_fields}


@pytest.mark.django_db
def test_rows_matching_any_reads_what_the_orm_reads(account):
    other = BusinessAccount.objects.create(phone_number_id="2220001", waba_id="waba-b", app_secret="s2")
    BusinessAccount.objects.create(phone_number_id="2220002", waba_id=account.waba_id, name="sibling")
    BusinessAccount.objects.create(phone_number_id="2220003", waba_id="waba-c")
    asked = {
        "phone_number_id": {account.phone_number_id, other.phone_number_id},
        "waba_id": {account.waba_id},
    }

    found = rows_matching_any(BusinessAccount, **asked)

    expected = _as_orm(BusinessAccount, **asked)
    assert [row.pk for row in found] == [row.pk for row in expected] and len(found) == 3
    assert [_fields(row) for row in found] == [_fields(row) for row in expected]
    assert found[0].app_secret == account.app_secret  # encrypted column, decrypted on read
    assert not found[0]._state.adding and found[0]._state.db == "default"
    assert model_to_dict(found[1]) == model_to_dict(expected[1])


@pytest.mark.django_db
def test_rows_matching_any_converts_json_and_matches_nothing_for_empty_sets(account):
    event, created = record_webhook_event(
        b'{"object":"x"}',
        headers={"User-Agent": "Meta"},
        account=account,
        signature_verified=True,
        fields=["a"],
    )
    assert created
    (found,) = rows_matching_any(WebhookEvent, body_sha256=[event.body_sha256])
    assert found.headers == {"User-Agent": "Meta"} and bytes(found.body) == b'{"object":"x"}'
    assert found.received_at == WebhookEvent.objects.get().received_at
    assert rows_matching_any(BusinessAccount, phone_number_id=set(), waba_id=set()) == []


@pytest.mark.django_db(transaction=True)  # outside a transaction: PostgreSQL's one-statement path
def test_insert_or_get_now_stores_once_and_then_returns_the_stored_row(account):
    first, created = insert_or_get_now(
        WebhookEvent, {"body": b"{}", "account": account, "signature_verified": True}, body_sha256="f" * 64
    )
    again, created_again = insert_or_get_now(
        WebhookEvent, {"body": b"{}", "account": None, "signature_verified": False}, body_sha256="f" * 64
    )
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk and again.account_id == account.pk and again.signature_verified
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db
def test_update_rows_sets_each_row_and_combines_with_what_is_stored(account):
    from datetime import datetime, timedelta, timezone

    from wacloud_django.models import Contact, Conversation
    from wacloud_django.services.bulk_sql import ADD, GREATEST, update_rows

    early, late = datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 6, 1, tzinfo=timezone.utc)
    rows = []
    for index in range(3):
        contact = Contact.objects.create(account=account, wa_id=f"1555000000{index}")
        rows.append(
            Conversation.objects.create(
                account=account, contact=contact, unread_count=index, last_message_at=late
            )
        )
    changed = update_rows(
        Conversation,
        {
            rows[0].pk: {"unread_count": 5, "last_message_at": early, "last_inbound_at": early},
            rows[1].pk: {
                "unread_count": 1,
                "last_message_at": late + timedelta(days=1),
                "last_inbound_at": None,
            },
        },
        ["unread_count", "last_message_at", "last_inbound_at"],
        combine={"unread_count": ADD, "last_message_at": GREATEST},
    )
    assert changed == 2
    first, second, untouched = (Conversation.objects.get(pk=row.pk) for row in rows)
    assert (first.unread_count, first.last_message_at, first.last_inbound_at) == (5, late, early)
    assert (second.unread_count, second.last_message_at, second.last_inbound_at) == (
        2, late + timedelta(days=1), None,
    )  # fmt: skip
    assert (untouched.unread_count, untouched.last_message_at) == (2, late)


TRICKY_TEXTS = [
    'say "hi"', "back\\slash", "\\", '"', "{braces}, commas", "NULL", "", "  spaced  ", "línea\nnueva ✓",
    "it's", "\\\"mixed\\\"",
]  # fmt: skip


@pytest.mark.django_db
def test_update_rows_stores_every_text_as_given(account):
    from datetime import datetime, timezone

    from wacloud_django.models import Contact
    from wacloud_django.services.bulk_sql import update_rows

    contacts = [
        Contact.objects.create(account=account, wa_id=f"1555100{index:04}")
        for index in range(len(TRICKY_TEXTS))
    ]
    seen = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=timezone.utc)
    rows = {
        contact.pk: {"name": text, "last_inbound_at": seen}
        for contact, text in zip(contacts, TRICKY_TEXTS, strict=True)
    }

    assert update_rows(Contact, rows, ["name", "last_inbound_at"]) == len(TRICKY_TEXTS)

    stored = {
        contact.pk: (contact.name, contact.last_inbound_at)
        for contact in Contact.objects.filter(account=account)
    }
    assert [stored[contact.pk] for contact in contacts] == [(text, seen) for text in TRICKY_TEXTS]


def test_array_literal_writes_postgresql_text_arrays():
    from datetime import date, datetime, timezone
    from enum import IntEnum

    from wacloud_django.models import Message
    from wacloud_django.services.bulk_sql import array_literal

    class Level(IntEnum):
        HIGH = 3

    assert array_literal([1, None, Level.HIGH, True, False]) == "{1,NULL,3,t,f}"
    assert array_literal(['a"b', "c\\d", "NULL", Message.Status.SENT]) == '{"a\\"b","c\\\\d","NULL","sent"}'
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert array_literal([moment]) == '{"2026-01-02T03:04:05+00:00"}'
    assert array_literal([]) == "{}"
    for other in ([date(2026, 1, 2)], [1, {"a": 1}], [datetime(2026, 1, 2)]):  # left to psycopg
        assert array_literal(other) is other
