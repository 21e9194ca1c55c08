"""``WACLOUD["CONFIRMATIONS"]`` (docs/automation.md "Confirmations"): reply words, texts and the
template as settings, read on every call, and their mistakes named by ``manage.py check``."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks

from wacloud_django.automation.services.confirmation_replies import (
    button_id,
    match_reply,
    parse_button_id,
    replies,
    texts,
)
from wacloud_django.exceptions import SettingError


def test_reply_words_are_settings(settings):
    settings.WACLOUD = {**settings.WACLOUD, "CONFIRMATIONS": {"REPLIES": {"confirmed": {"fr": ["Oui"]}}}}
    assert match_reply("OUI") == ("confirmed", "fr") and match_reply("yes") is None
    assert match_reply("no") is None  # an outcome left out has no words (only its button)
    settings.WACLOUD = {**settings.WACLOUD, "CONFIRMATIONS": {"REPLIES": {"maybe": ["?"]}}}
    with pytest.raises(SettingError, match=r'WACLOUD\["CONFIRMATIONS"\]\["REPLIES"\]'):
        replies()
    settings.WACLOUD = {**settings.WACLOUD, "CONFIRMATIONS": {"DEFAULT_TIMEOUT_MINUTES": "soon"}}
    with pytest.raises(SettingError, match="DEFAULT_TIMEOUT_MINUTES"):
        match_reply("yes")


def test_default_words_and_texts():
    assert match_reply("  Sí! ") == ("confirmed", "es") and match_reply("NÃO") == ("declined", "pt")
    assert match_reply("stop") == ("cancelled", "en") and match_reply("yes please") is None
    assert texts()["button.confirmed"] == "Yes"
    assert parse_button_id(button_id(12, "declined")) == (12, "declined")
    assert parse_button_id("wacloud-confirmation:12:maybe") is None and parse_button_id(None) is None


def test_texts_are_settings(settings):
    settings.WACLOUD = {**settings.WACLOUD, "CONFIRMATIONS": {"TEXTS": {"button.confirmed": "Sim"}}}
    assert texts()["button.confirmed"] == "Sim" and texts()["button.declined"] == "No"


@pytest.mark.parametrize(
    ("override", "name"),
    [
        ({"ONE_PENDING": True}, 'WACLOUD["CONFIRMATIONS"]["ONE_PENDING"]'),
        ({"REPLIES": {"confirmed": "YES"}}, 'WACLOUD["CONFIRMATIONS"]["REPLIES"]'),
        ({"TEXTS": {"body": 3}}, 'WACLOUD["CONFIRMATIONS"]["TEXTS"]'),
        ({"MAX_TIMEOUT_MINUTES": 0}, 'WACLOUD["CONFIRMATIONS"]["MAX_TIMEOUT_MINUTES"]'),
        ({"TEMPLATE_PARAMETERS": ["date"]}, 'WACLOUD["CONFIRMATIONS"]["TEMPLATE_PARAMETERS"]'),
        ({"ONE_PENDING_PER_CONTACT": "yes"}, 'WACLOUD["CONFIRMATIONS"]["ONE_PENDING_PER_CONTACT"]'),
    ],
)
def test_bad_settings_fail_the_system_check(settings, override, name):
    settings.WACLOUD = {**settings.WACLOUD, "CONFIRMATIONS": override}
    found = [message for message in run_checks() if message.id == "wacloud.E060"]
    assert found and name in found[0].msg, found


def test_good_settings_pass_the_system_check(settings):
    settings.WACLOUD = {
        **settings.WACLOUD,
        "CONFIRMATIONS": {"REPLIES": {"confirmed": ["OK"], "cancelled": {"fr": ["ANNULER"]}},
                          "TEXTS": {"footer": ""}, "ONE_PENDING_PER_CONTACT": False},
    }  # fmt: skip
    assert [message for message in run_checks() if message.id == "wacloud.E060"] == []


@pytest.mark.django_db
def test_bad_settings_never_block_inbound_messages(post_webhook, account, settings):
    import time

    from wacloud_test_helpers import text_message

    from wacloud_django.models import Message, WebhookEvent

    settings.WACLOUD = {**settings.WACLOUD, "CONFIRMATIONS": {"REPLIES": {"maybe": ["?"]}}}
    assert post_webhook(text_message("wamid.bad", "yes", timestamp=int(time.time()))).status_code == 200
    assert Message.objects.filter(wamid="wamid.bad").exists()
    assert WebhookEvent.objects.get().status == "processed"
