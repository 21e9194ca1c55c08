"""conf.DerivedFromSetting: a table made from a setting is made once per distinct value."""

from __future__ import annotations

from django.test import override_settings

from wacloud_django.automation.services.consent_keywords import match_keyword
from wacloud_django.conf import DerivedFromSetting


def test_a_table_is_made_again_only_when_the_value_differs():
    built = []
    table = DerivedFromSetting(lambda value: built.append(list(value)) or {word.lower() for word in value})
    words = ["STOP", "Baja"]
    assert table(words) == {"stop", "baja"}
    assert table(["STOP", "Baja"]) == {"stop", "baja"}  # an equal value: not made again
    words.append("Parar")  # the same list changed in place is a new value
    assert table(words) == {"stop", "baja", "parar"}
    assert built == [["STOP", "Baja"], ["STOP", "Baja", "Parar"]]


def test_consent_keywords_follow_the_setting_as_it_changes():
    assert match_keyword("stop!") == ("revoke", "en")
    with override_settings(WACLOUD={"CONSENT_KEYWORDS": {"revoke": {"fr": ["ARRÊT"]}}}):
        assert match_keyword("arret") == ("revoke", "fr")
        assert match_keyword("stop") is None
    assert match_keyword("stop") == ("revoke", "en") and match_keyword("arret") is None
