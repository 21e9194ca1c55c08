"""Settings accessor, system checks, encryption at rest, accounts from the environment."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from wacloud_django import crypto
from wacloud_django.conf import get_setting, use_celery
from wacloud_django.exceptions import DecryptionError, EnvironmentSettingError, SettingError
from wacloud_django.models import BusinessAccount
from wacloud_django.services.accounts import seed_account_from_env

KEY = "0f" * 32  # wacloud_test_settings


# -- settings ------------------------------------------------------------------------------------


def test_get_setting_reads_configured_then_documented_default(settings):
    settings.WACLOUD = {"API_VERSION": "v22.0"}
    assert get_setting("API_VERSION") == "v22.0"
    assert get_setting("WEBHOOK_MAX_BODY_BYTES") == 3 * 1024 * 1024
    assert get_setting("MEDIA_DOWNLOAD") is True
    assert get_setting("NOT_DOCUMENTED", default=7) == 7
    with pytest.raises(KeyError, match='WACLOUD\\["NOT_DOCUMENTED"\\]'):
        get_setting("NOT_DOCUMENTED")


def test_nested_rate_limit_is_merged_key_by_key(settings):
    settings.WACLOUD = {"RATE_LIMIT": {"PER_HOUR": 1000}}
    assert get_setting("RATE_LIMIT") == {"PER_SECOND": 80, "PER_HOUR": 1000, "BACKEND": "memory"}


def test_wacloud_must_be_a_dict(settings):
    settings.WACLOUD = ["nope"]
    with pytest.raises(SettingError, match=r"settings\.WACLOUD must be a dict"):
        get_setting("API_VERSION")
    assert [m.id for m in run_checks()] == ["wacloud.E001"]


@pytest.mark.parametrize(("value", "expected"), [(False, False), ("auto", False)])
def test_use_celery(settings, value, expected):
    settings.WACLOUD = {"USE_CELERY": value}
    assert use_celery() is expected


def test_use_celery_rejects_other_values(settings):
    settings.WACLOUD = {"USE_CELERY": "yes"}
    with pytest.raises(SettingError, match='WACLOUD\\["USE_CELERY"\\]') as raised:
        use_celery()
    assert raised.value.setting == "USE_CELERY" and isinstance(raised.value, ImproperlyConfigured)


# -- checks --------------------------------------------------------------------------------------


def wacloud_checks():
    return {message.id: message.msg for message in run_checks() if message.id.startswith("wacloud.")}


def test_test_settings_pass_the_checks():
    assert wacloud_checks() == {}


@pytest.mark.parametrize(
    ("override", "check_id", "names"),
    [
        ({"ENCRYPTION_KEY": "abc"}, "wacloud.E002", 'WACLOUD["ENCRYPTION_KEY"]'),
        ({"ENCRYPTION_KEY": None}, "wacloud.W001", 'WACLOUD["ENCRYPTION_KEY"]'),
        ({"ENCRYPTION_KEY_FALLBACKS": ["zz"]}, "wacloud.E003", 'WACLOUD["ENCRYPTION_KEY_FALLBACKS"]'),
        ({"USE_CELERY": 1}, "wacloud.E004", 'WACLOUD["USE_CELERY"]'),
        ({"RATE_LIMIT": {"PER_SECOND": 0}}, "wacloud.E005", 'WACLOUD["RATE_LIMIT"]["PER_SECOND"]'),
        ({"RATE_LIMIT": {"BACKEND": "carrier-pigeon"}}, "wacloud.E005", 'WACLOUD["RATE_LIMIT"]["BACKEND"]'),
        ({"RATE_LIMIT": {"PER_MINUTE": 5}}, "wacloud.E005", 'WACLOUD["RATE_LIMIT"]["PER_MINUTE"]'),
        ({"WEBHOOK_MAX_BODY_BYTES": "3MB"}, "wacloud.E006", 'WACLOUD["WEBHOOK_MAX_BODY_BYTES"]'),
        ({"WEBHOOK_EVENT_RETENTION_DAYS": -1}, "wacloud.E007", 'WACLOUD["WEBHOOK_EVENT_RETENTION_DAYS"]'),
        ({"MEDIA_STORAGE": "s3"}, "wacloud.E008", 'WACLOUD["MEDIA_STORAGE"]'),
        ({"API_VERSION": "21"}, "wacloud.E009", 'WACLOUD["API_VERSION"]'),
        ({"BASE_URL": "graph.facebook.com"}, "wacloud.E010", 'WACLOUD["BASE_URL"]'),
        ({"MEDIA_DOWNLOAD": "yes"}, "wacloud.E011", 'WACLOUD["MEDIA_DOWNLOAD"]'),
        ({"APP_SECRET": 12}, "wacloud.E012", 'WACLOUD["APP_SECRET"]'),
        ({"DEFAULT_COUNTRY_CODE": "Israel"}, "wacloud.E013", 'WACLOUD["DEFAULT_COUNTRY_CODE"]'),
        ({"VERIFY_TOKNE": "typo"}, "wacloud.W002", "VERIFY_TOKNE"),
    ],
)
def test_each_bad_setting_is_reported_by_name(settings, override, check_id, names):
    settings.WACLOUD = {**settings.WACLOUD, **override}
    found = wacloud_checks()
    assert check_id in found, found
    assert names in found[check_id]


@pytest.mark.parametrize(
    ("backend", "accepted"),
    [
        ("memory", True),
        ("sqlite", True),
        ("sqlite:/var/run/wacloud/limits.sqlite3", True),
        ("redis://localhost:6379/0", True),
        ("rediss://cache.example.com", True),
        ("myproject.limits.build_limiter", True),
        ("redis", False),
        ("database", False),
        ("carrier-pigeon", False),
        (42, False),
    ],
)
def test_rate_limit_backend_check_matches_what_the_factory_builds(settings, backend, accepted):
    settings.WACLOUD = {**settings.WACLOUD, "RATE_LIMIT": {"BACKEND": backend}}
    assert ("wacloud.E005" not in wacloud_checks()) is accepted


def test_contenttypes_is_required(monkeypatch):
    from django.apps import apps

    monkeypatch.setattr(apps, "is_installed", lambda name: name != "django.contrib.contenttypes")
    assert "wacloud.E014" in wacloud_checks()


# -- encryption at rest --------------------------------------------------------------------------


def test_round_trip_and_fresh_nonce():
    first = crypto.encrypt("EAAG-secret", "wacloud.BusinessAccount.access_token")
    second = crypto.encrypt("EAAG-secret", "wacloud.BusinessAccount.access_token")
    assert first != second  # random nonce
    assert first.startswith("wac1:") and "EAAG" not in first
    assert crypto.decrypt(first, "wacloud.BusinessAccount.access_token") == "EAAG-secret"


def test_ciphertext_is_bound_to_its_field():
    token = crypto.encrypt("s", "wacloud.BusinessAccount.access_token")
    with pytest.raises(DecryptionError, match="altered or belongs to another field"):
        crypto.decrypt(token, "wacloud.BusinessAccount.app_secret")


def test_tampered_ciphertext_is_refused():
    token = crypto.encrypt("secret", "purpose")
    head, payload = token.rsplit(":", 1)
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    with pytest.raises(DecryptionError, match='WACLOUD\\["ENCRYPTION_KEY"\\]'):
        crypto.decrypt(f"{head}:{flipped}", "purpose")
    with pytest.raises(DecryptionError, match="truncated"):
        crypto.decrypt(f"{head}:AAAA", "purpose")
    with pytest.raises(DecryptionError, match="not a wac1 encrypted value"):
        crypto.decrypt("plaintext-token", "purpose")


def test_wrong_key_is_named_and_fallback_keys_decrypt(settings):
    token = crypto.encrypt("secret", "purpose")
    settings.WACLOUD = {**settings.WACLOUD, "ENCRYPTION_KEY": "1e" * 32}
    with pytest.raises(DecryptionError, match='neither WACLOUD\\["ENCRYPTION_KEY"\\] nor one of'):
        crypto.decrypt(token, "purpose")
    settings.WACLOUD = {**settings.WACLOUD, "ENCRYPTION_KEY_FALLBACKS": [KEY]}
    assert crypto.decrypt(token, "purpose") == "secret"  # rotation: old values still readable


@pytest.mark.parametrize("bad", ["abc", "zz" * 32, 123])
def test_malformed_key_names_the_setting(settings, bad):
    settings.WACLOUD = {**settings.WACLOUD, "ENCRYPTION_KEY": bad}
    with pytest.raises(SettingError, match='WACLOUD\\["ENCRYPTION_KEY"\\] must be 32 bytes') as raised:
        crypto.encrypt("x", "purpose")
    assert raised.value.setting == "ENCRYPTION_KEY"


def test_without_key_one_is_derived_from_secret_key(settings):
    settings.WACLOUD = {**settings.WACLOUD, "ENCRYPTION_KEY": None}
    token = crypto.encrypt("x", "p")
    assert crypto.decrypt(token, "p") == "x"
    settings.SECRET_KEY = "another"  # what the W001 warning is about
    with pytest.raises(DecryptionError, match="was encrypted with key"):
        crypto.decrypt(token, "p")


@pytest.mark.django_db
def test_account_secrets_are_encrypted_in_the_database():
    account = BusinessAccount.objects.create(phone_number_id="1", access_token="EAAG-live", app_secret="shh")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token_encrypted, app_secret_encrypted FROM wacloud_businessaccount WHERE id = %s",
            [account.pk],
        )
        stored = cursor.fetchone()
    assert all(value.startswith("wac1:") for value in stored)
    assert "EAAG-live" not in stored[0] and "shh" not in stored[1]
    account = BusinessAccount.objects.get(pk=account.pk)
    assert (account.access_token, account.app_secret) == ("EAAG-live", "shh")
    account.app_secret = ""
    account.save()
    assert BusinessAccount.objects.get(pk=account.pk).app_secret == ""


# -- accounts from the environment ---------------------------------------------------------------


@pytest.mark.django_db
def test_seed_account_from_env_creates_then_updates():
    env = {
        "WHATSAPP_ACCESS_TOKEN": "EAAG-1",
        "WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
        "WHATSAPP_WABA_ID": "102290129340398",
        "WHATSAPP_APP_SECRET": "app-secret",
        "WHATSAPP_VERIFY_TOKEN": "verify",
    }
    account = seed_account_from_env(env)
    assert (account.phone_number_id, account.waba_id, account.verify_token) == (
        "106540352242922",
        "102290129340398",
        "verify",
    )
    assert (account.access_token, account.app_secret) == ("EAAG-1", "app-secret")
    again = seed_account_from_env(
        {"WHATSAPP_ACCESS_TOKEN": "EAAG-2", "WHATSAPP_PHONE_NUMBER_ID": "106540352242922"}
    )
    assert again.pk == account.pk and again.access_token == "EAAG-2" and again.app_secret == "app-secret"
    assert BusinessAccount.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"WHATSAPP_ACCESS_TOKEN": "t"}, "WHATSAPP_PHONE_NUMBER_ID"),
        ({"WHATSAPP_PHONE_NUMBER_ID": "123"}, "WHATSAPP_ACCESS_TOKEN"),
        ({"WHATSAPP_ACCESS_TOKEN": "t", "WHATSAPP_PHONE_NUMBER_ID": "+1 555"}, "WHATSAPP_PHONE_NUMBER_ID"),
    ],
)
def test_seed_account_from_env_names_the_missing_variable(env, variable):
    with pytest.raises(EnvironmentSettingError, match=variable) as raised:
        seed_account_from_env(env)
    assert raised.value.variable == variable


@pytest.mark.django_db
def test_seed_account_from_env_without_variables_does_nothing():
    assert seed_account_from_env({}) is None
    assert BusinessAccount.objects.count() == 0
