"""Meta's OpenAPI description of the Cloud API (``meta/``, vendored unmodified) as a judge.

Loads the spec once per process, resolves its ``$ref``s with a ``referencing`` registry and
validates with jsonschema's Draft 2020-12 validator (OpenAPI 3.1 schemas are JSON Schema
2020-12). It finds an operation by ``operationId`` or by method and path, validates request
bodies, query parameters and responses, and gives the schema of webhook payloads.

jsonschema and PyYAML come with the ``[sandbox]`` extra; without them :func:`available` is
false and the sandbox serves without checking (it never needs them to run).

Parsing the 1.1 MB YAML takes about 1.5 s with libyaml (7 s with the pure-Python loader), so
the parsed document is also kept as JSON in the user's cache directory, keyed by the YAML's
SHA-256: later processes load it in a fraction of that."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPEC_DIR = Path(__file__).with_name("meta")
SPEC_FILE = SPEC_DIR / "business-messaging-api_v23.0.yaml"
SPEC_URI = "urn:wacloud:meta:business-messaging-api_v23.0"
WEBHOOK_PATH = "/whatsapp/webhooks"
_METHODS = ("get", "post", "put", "patch", "delete")


class SpecUnavailable(RuntimeError):
    """jsonschema or PyYAML is not installed (``pip install wacloud[sandbox]``)."""


@dataclass(frozen=True)
class Violation:
    """One way a document breaks the spec: where (``location``, e.g. ``text.body``), which
    rule (``rule``, the JSON Schema keyword) and jsonschema's own wording."""

    location: str
    rule: str
    message: str
    missing: str | None = None  # the property a ``required`` rule wanted

    def __str__(self) -> str:
        return f"{self.location or '(root)'}: {self.message}"


def available() -> bool:
    try:
        import jsonschema  # noqa: F401
        import referencing  # noqa: F401
        import yaml  # noqa: F401
    except ImportError:
        return False
    return True


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "wacloud"


@functools.cache
def document() -> dict[str, Any]:
    """The parsed spec, from the JSON cache when it matches the vendored YAML."""
    raw = SPEC_FILE.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    cached = _cache_dir() / f"meta-spec-{digest}.json"
    try:
        return json.loads(cached.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    try:
        import yaml
    except ImportError:
        raise SpecUnavailable("reading Meta's spec needs PyYAML: pip install 'wacloud[sandbox]'") from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    # Through JSON, so that a parse and a cache read give the same document (YAML's unquoted
    # ``200:`` is an int key, JSON's a string).
    parsed = json.loads(json.dumps(yaml.load(raw, Loader=loader)))  # a safe loader either way
    try:  # best effort: a read-only home only costs the parse next time
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=cached.parent, delete=False, encoding="utf-8") as tmp:
            json.dump(parsed, tmp)
        os.replace(tmp.name, cached)
    except OSError:
        pass
    return parsed


@functools.cache
def adapted_document() -> dict[str, Any]:
    """The spec as Meta answers (see :mod:`.spec_readings`): what validation uses."""
    from .spec_readings import as_meta_answers

    return as_meta_answers(document())


@functools.cache
def _registry() -> Any:
    try:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012
    except ImportError:
        raise SpecUnavailable(
            "checking against Meta's spec needs jsonschema: pip install 'wacloud[sandbox]'"
        ) from None
    resource = Resource.from_contents(adapted_document(), default_specification=DRAFT202012)
    return Registry().with_resource(SPEC_URI, resource)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def pointer(*tokens: str) -> str:
    """A JSON pointer into the spec (``pointer("components", "schemas", "Message")``)."""
    return "".join("/" + _escape(str(t)) for t in tokens)


@functools.cache
def validator(schema_pointer: str) -> Any:
    """A validator for the schema at ``schema_pointer``. The schema is entered through a
    ``$ref`` so that its own ``#/components/...`` refs resolve against the whole document."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(
        {"$ref": f"{SPEC_URI}#{schema_pointer}"},
        registry=_registry(),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


@functools.cache
def discriminator(schema_pointer: str) -> tuple[str, dict[str, str]] | None:
    """The OpenAPI discriminator of the schema at ``schema_pointer``: its property name and the
    pointer of the branch for each value (``Message``: ``type`` -> ``TextMessage``, ...)."""
    schema = _resolve("#" + schema_pointer, adapted_document())
    while "$ref" in schema:
        schema = _resolve(schema["$ref"], adapted_document())
    found = schema.get("discriminator")
    if not isinstance(found, dict):
        return None
    mapping = {
        kind: target[1:]
        for kind, target in found.get("mapping", {}).items()
        if isinstance(target, str) and target.startswith("#/")
    }
    return found.get("propertyName"), mapping


@functools.cache
def acceptor(schema_pointer: str) -> Any:
    """The compiled yes/no check of :mod:`.spec_accept` for a schema, or None (jsonschema only)."""
    from .spec_accept import compile_schema

    return compile_schema(adapted_document(), schema_pointer)


def _narrowed(instance: Any, schema_pointer: str) -> str:
    """Where a ``oneOf`` has an OpenAPI discriminator (``Message`` by ``type``), the branch the
    instance names: its errors say what is wrong ("text.body is required") where the whole
    ``oneOf`` only says "not valid under any of the given schemas"."""
    found = discriminator(schema_pointer)
    if found is None or not isinstance(instance, dict):
        return schema_pointer
    # A message without ``type`` is a text message to Meta (other discriminated schemas have
    # no "text" branch, and a missing property keeps the whole ``oneOf``).
    kind = instance.get(found[0], "text")
    return found[1].get(kind, schema_pointer) if isinstance(kind, str) else schema_pointer


def _location(path: Any) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def violations(instance: Any, schema_pointer: str) -> list[Violation]:
    """Every violation of the schema at ``schema_pointer``, the most relevant first."""
    schema_pointer = _narrowed(instance, schema_pointer)
    accepts = acceptor(schema_pointer)
    if accepts is not None and accepts(instance):
        return []  # valid: jsonschema would find nothing (it is asked only to word a refusal)
    from jsonschema.exceptions import best_match, relevance

    errors = sorted(validator(schema_pointer).iter_errors(instance), key=relevance)
    if not errors:
        return []
    first = best_match(errors)
    ordered = [first, *(e for e in errors if e is not first)]
    found = []
    for error in ordered:
        missing = None
        if error.validator == "required":
            missing = next((name for name in error.validator_value if name not in error.instance), None)
        found.append(Violation(_location(error.absolute_path), str(error.validator), error.message, missing))
    return found


# -- operations ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str | None

    @property
    def base(self) -> tuple[str, ...]:
        return ("paths", self.path, self.method)

    @property
    def definition(self) -> dict[str, Any]:
        return document()["paths"][self.path][self.method]

    def request_schema(self, content_type: str = "application/json") -> str | None:
        """The pointer of the request body's schema for ``content_type``, if the spec gives one."""
        return _request_schema(self, content_type)

    def response_schema(self, status: int, content_type: str = "application/json") -> str | None:
        """The pointer of the response schema for ``status`` (or ``default``), if any."""
        responses = self.definition.get("responses", {})
        key = str(status) if str(status) in responses else "default"
        response = responses.get(key)
        if response is None:
            return None
        tokens: tuple[str, ...] = (*self.base, "responses", key)
        if "$ref" in response:  # a shared response object
            tokens = tuple(response["$ref"].lstrip("#/").split("/"))
            response = _resolve(response["$ref"])
        if "schema" not in response.get("content", {}).get(content_type, {}):
            return None
        return pointer(*tokens, "content", content_type, "schema")

    def query_parameters(self) -> list[dict[str, Any]]:
        return list(_query_parameters(self))

    def check_body(self, body: Any, content_type: str = "application/json") -> list[Violation]:
        schema = self.request_schema(content_type)
        return [] if schema is None else violations(body, schema)

    def check_query(self, query: dict[str, str]) -> list[Violation]:
        """Query parameters: the required ones present, each given one valid for its schema."""
        found: list[Violation] = []
        for param in _query_parameters(self):
            name = param["name"]
            if name not in query:
                if param.get("required"):
                    found.append(Violation("", "required", f"'{name}' is a required property", name))
                continue
            if "schema" in param:
                errors = _parameter_validator(json.dumps(param["schema"], sort_keys=True)).iter_errors(
                    _query_value(query[name], param["schema"])
                )
                found += [Violation(name, str(e.validator), e.message) for e in errors]
        return found

    def check_response(self, status: int, body: Any) -> list[Violation]:
        schema = self.response_schema(status)
        return [] if schema is None else violations(body, schema)


def _query_value(text: str, schema: dict[str, Any]) -> Any:
    """A query parameter as its schema reads it: a query holds only text, so ``limit=25``
    is the integer 25 for an integer parameter."""
    if schema.get("type") in ("integer", "number") and re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    return text


# Per operation, once: every checked request asks for these.
@functools.cache
def _request_schema(operation: Operation, content_type: str) -> str | None:
    content = operation.definition.get("requestBody", {}).get("content", {})
    if content_type not in content or "schema" not in content[content_type]:
        return None
    return pointer(*operation.base, "requestBody", "content", content_type, "schema")


@functools.cache
def _query_parameters(operation: Operation) -> tuple[dict[str, Any], ...]:
    params = [_resolve(p["$ref"]) if "$ref" in p else p for p in operation.definition.get("parameters", [])]
    return tuple(p for p in params if p.get("in") == "query")


def _resolve(ref: str, root: Any = None) -> Any:
    node: Any = document() if root is None else root
    for token in ref.lstrip("#/").split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


@functools.cache
def _parameter_validator(schema_json: str) -> Any:
    """A validator for a parameter's inline schema (given as JSON, to be cached by value)."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(schema_json), registry=_registry())


def operations() -> list[Operation]:
    """Every operation the spec describes, webhooks included."""
    return [
        Operation(method, path, definition.get("operationId"))
        for path, item in document()["paths"].items()
        for method, definition in item.items()
        if method in _METHODS
    ]


@functools.cache
def operation(operation_id: str) -> Operation:
    for op in operations():
        if op.operation_id == operation_id:
            return op
    raise KeyError(f"Meta's spec has no operation {operation_id!r}")


def _template_regex(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")


def matching(method: str, path: str) -> list[Operation]:
    """The operations whose path template matches a concrete path. Graph's node paths are
    ambiguous (``/v23.0/123`` is a phone number, a WABA or a media id alike), so every
    candidate is returned, the most specific template (fewest parameters) first."""
    method = method.lower()
    found = [op for op in operations() if op.method == method and _template_regex(op.path).match(path)]
    return sorted(found, key=lambda op: op.path.count("{"))


# -- node fields and webhooks -----------------------------------------------------------------
def schema_at(schema_pointer: str) -> dict[str, Any]:
    """The schema at a pointer, its top-level ``$ref`` followed."""
    node = _resolve("#" + schema_pointer)
    while "$ref" in node:
        node = _resolve(node["$ref"])
    return node


def fields_of(schema_pointer: str) -> list[str]:
    """The properties a schema documents, in the spec's order."""
    return list(schema_at(schema_pointer).get("properties", {}))


def webhook_schema() -> str:
    """The pointer of the schema of every webhook payload Meta POSTs."""
    return Operation("post", WEBHOOK_PATH, None).request_schema() or pointer(
        "components", "schemas", "WebhookPayload"
    )


def check_webhook(payload: Any) -> list[Violation]:
    return violations(payload, webhook_schema())
