"""The compiled yes/no check (wacloud/sandbox/spec_accept.py) judges exactly as jsonschema.

A document it accepts skips jsonschema, so it must never accept what jsonschema refuses; one it
refuses goes to jsonschema for the wording, so refusing too much would only cost time, but it
must agree both ways for the fast path to be worth having. Checked on Meta's own request examples
and thousands of seeded mutations of them (removed, added and retyped fields at every depth)."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from wacloud.sandbox import conformance, spec
from wacloud.sandbox.spec_accept import compile_schema

REPLACEMENTS: list[Any] = [
    None, True, False, 0, -1, 1.5, 2.0, 10**12, "", "x", "x" * 5000, "https://example.com/a.jpg",
    "not a url", "2024-01-01", "text", "image", "template", [], [1], ["a"], {}, {"body": "hi"},
]  # fmt: skip


def _paths(node: Any, here: tuple = ()) -> list[tuple]:
    found = [here]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*here, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*here, index))
    return found


def _at(node: Any, path: tuple) -> Any:
    for part in path:
        node = node[part]
    return node


def mutations(document: Any, rng: random.Random, count: int) -> list[Any]:
    out = []
    paths = _paths(document)
    for _ in range(count):
        mutated = copy.deepcopy(document)
        path = rng.choice(paths)
        target = _at(mutated, path)
        action = rng.random()
        if isinstance(target, dict) and target and action < 0.3:
            del target[rng.choice(list(target))]
        elif isinstance(target, dict) and action < 0.45:
            target[rng.choice(["bogus", "type", "text", "link", "id", "caption"])] = rng.choice(REPLACEMENTS)
        elif isinstance(target, list) and target and action < 0.3:
            target.pop(rng.randrange(len(target)))
        elif isinstance(target, list) and action < 0.45:
            target.append(copy.deepcopy(rng.choice(target)) if target else rng.choice(REPLACEMENTS))
        elif path:
            _at(mutated, path[:-1])[path[-1]] = copy.deepcopy(rng.choice(REPLACEMENTS))
        else:
            mutated = copy.deepcopy(rng.choice(REPLACEMENTS))
        out.append(mutated)
    return out


def request_examples(operation_id: str) -> list[Any]:
    content = spec.operation(operation_id).definition.get("requestBody", {}).get("content", {})
    examples = content.get("application/json", {}).get("examples", {})
    return [example["value"] for example in examples.values() if "value" in example]


def jsonschema_accepts(document: Any, schema_pointer: str) -> bool:
    return not any(True for _ in spec.validator(schema_pointer).iter_errors(document))


def agree(documents: list[Any], schema_pointer: str) -> tuple[int, int]:
    accepts = compile_schema(spec.adapted_document(), schema_pointer)
    assert accepts is not None, f"{schema_pointer} is not compiled"
    valid = 0
    for document in documents:
        expected = jsonschema_accepts(document, schema_pointer)
        assert accepts(document) == expected, (schema_pointer, document)
        valid += expected
    return valid, len(documents) - valid


SEND = spec.operation(conformance.SEND_MESSAGE).request_schema()


def test_the_send_schema_and_every_message_type_are_compiled():
    assert SEND is not None
    name, branches = spec.discriminator(SEND)
    assert name == "type" and {"text", "image", "template", "interactive"} <= set(branches)
    for pointer in (SEND, *branches.values()):
        assert spec.acceptor(pointer) is not None, pointer


@pytest.mark.parametrize("seed", range(2))
def test_it_agrees_with_jsonschema_on_metas_send_examples_and_their_mutations(seed):
    rng = random.Random(seed)
    examples = request_examples(conformance.SEND_MESSAGE)
    assert len(examples) >= 40
    valid = refused = 0
    for example in examples:
        documents = [example, *mutations(example, rng, 30)]
        # Against the whole send schema (every kind) and against the branch the type names.
        for pointer in {SEND, spec._narrowed(example, SEND)}:
            ok, bad = agree(documents, pointer)
            valid, refused = valid + ok, refused + bad
    assert valid > 100 and refused > 500  # both answers are exercised


@pytest.mark.parametrize("operation_id", [conformance.CREATE_TEMPLATE, conformance.UPDATE_PROFILE])
def test_it_agrees_with_jsonschema_on_other_request_bodies(operation_id):
    pointer = spec.operation(operation_id).request_schema()
    rng = random.Random(operation_id)
    examples = request_examples(operation_id) or [{}]
    documents = [d for example in examples for d in [example, *mutations(example, rng, 150)]]
    valid, refused = agree(documents, pointer)
    assert valid > 0 and refused > 0


def test_unimplemented_keywords_leave_the_schema_to_jsonschema():
    root = {"components": {"schemas": {"Odd": {"type": "array", "uniqueItems": True}}}}
    assert compile_schema(root, "/components/schemas/Odd") is None
    assert compile_schema(root, "/components/schemas/Missing") is None
    root["components"]["schemas"]["Fine"] = {"type": "array", "description": "annotations are fine"}
    assert compile_schema(root, "/components/schemas/Fine")([1]) is True


def test_a_recursive_schema_compiles():
    node = {"type": "object", "properties": {"child": {"$ref": "#/components/schemas/Node"}}}
    root = {"components": {"schemas": {"Node": node}}}
    accepts = compile_schema(root, "/components/schemas/Node")
    assert accepts({"child": {"child": {}}}) is True
    assert accepts({"child": {"child": 3}}) is False


def test_a_refused_body_is_worded_by_jsonschema_as_before():
    body = {"messaging_product": "whatsapp", "to": "1555", "type": "text", "text": {"body": "hi", "bogus": 1}}
    (first, *_) = spec.operation(conformance.SEND_MESSAGE).check_body(body)
    assert first.rule == "additionalProperties" and "bogus" in first.message
    assert spec.operation(conformance.SEND_MESSAGE).check_body({**body, "text": {"body": "hi"}}) == []
