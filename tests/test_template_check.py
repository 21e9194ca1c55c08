"""A template send checked against the template before it is sent (wacloud.template_check):
each mismatch Meta refuses is a TemplateMismatch with Meta's code and the component, index
and card it is in; a malformed component is InvalidParameter; raw dicts are judged like typed
components. The sandbox answers the same cases the same way: tests/test_client_templates.py."""

from __future__ import annotations

import pickle

import pytest

from template_cases import CASES, DEFINITIONS, ORDER, ORDER_OK
from wacloud import InvalidParameter, TemplateBody, TemplateError, TemplateMismatch, UrlButton
from wacloud.messages import Template
from wacloud.template_check import check_components
from wacloud.template_components import component_dicts


@pytest.mark.parametrize(
    ("case", "template", "components", "code", "component", "index", "card"), CASES, ids=[c[0] for c in CASES]
)
def test_each_case_is_judged_as_meta_judges_it(case, template, components, code, component, index, card):
    definition = {**DEFINITIONS[template], "status": "APPROVED"}
    message = Template(definition["name"], "en_US", components)
    if code is None:
        message.check_against(definition)
        check_components(definition, component_dicts(components))  # raw dicts: the same verdict
        return
    for given in (components, component_dicts(components)):
        with pytest.raises(TemplateMismatch) as raised:
            Template(definition["name"], "en_US", given).check_against(definition)
        error = raised.value
        assert isinstance(error, TemplateError) and error.code == code, str(error)
        assert (error.component, error.index, error.card) == (component, index, card), str(error)
        assert definition["name"] in str(error)


def test_a_definition_may_be_the_components_alone_and_named_is_inferred():
    check_components(ORDER["components"], ORDER_OK)
    named = [{"type": "BODY", "text": "Hi {{first_name}}, welcome"}]
    check_components(named, [TemplateBody(first_name="Ana")])
    with pytest.raises(TemplateMismatch, match=r"needs its parameter_name.*named: first_name"):
        check_components(named, [TemplateBody("Ana")])


@pytest.mark.parametrize(
    ("status", "code"), [("PAUSED", 132015), ("DISABLED", 132016), ("PENDING", 132001), ("REJECTED", 132001)]
)
def test_only_an_approved_definition_can_be_sent(status, code):
    with pytest.raises(TemplateError) as raised:
        Template("order_update", "en_US", ORDER_OK).check_against({**ORDER, "status": status})
    assert raised.value.code == code and status.lower() in str(raised.value).lower()


def test_a_definition_of_another_template_is_refused():
    with pytest.raises(InvalidParameter, match="order_update"):
        Template("other_name", "en_US", ORDER_OK).check_against(ORDER)
    with pytest.raises(InvalidParameter, match="pt_BR"):
        Template("order_update", "pt_BR", ORDER_OK).check_against(ORDER)


@pytest.mark.parametrize(
    ("components", "words"),
    [
        ([{"type": "footer", "parameters": []}], "type must be one of"),
        (["body"], "must be a dict"),
        ([{"type": "body", "parameters": "Ana"}], "parameters must be a list"),
        ([{"type": "button", "index": "1", "parameters": []}], "sub_type"),
        ([{"type": "button", "sub_type": "url", "index": "12", "parameters": []}], "index"),
        ([{"type": "button", "sub_type": "url", "parameters": []}], "index"),
        ([UrlButton(1, "a"), UrlButton(1, "b")], "second component for button 1"),
        ([TemplateBody("a"), TemplateBody("b")], "one body component"),
    ],
)
def test_a_malformed_component_is_invalid_parameter_100(components, words):
    with pytest.raises(InvalidParameter) as raised:
        check_components(ORDER, components)
    assert raised.value.code == 100 and words in str(raised.value)


def test_mismatch_survives_pickling_with_where_it_is():
    with pytest.raises(TemplateMismatch) as raised:
        check_components(ORDER, ORDER_OK[:2])
    copy = pickle.loads(pickle.dumps(raised.value))
    assert (type(copy), copy.code, copy.component, copy.index) == (TemplateMismatch, 132000, "button", 1)
