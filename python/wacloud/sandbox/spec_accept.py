"""A fast yes/no check of a document against one schema of Meta's spec (:mod:`.spec`).

jsonschema walks a schema anew for every document (about 250 µs for a text send). The sandbox
only needs jsonschema's wording when a document is refused, so each schema is compiled once into
plain Python closures that only answer "valid?"; a document they accept skips jsonschema, any
other goes through jsonschema as before, so every refusal reads exactly as it did.

The closures implement the keywords the spec uses with jsonschema's own meaning (its type and
format checkers, ``re.search`` for patterns, its ``equal`` for enums and consts). A schema using
any other assertion keyword is not compiled (:func:`compile_schema` returns None) and is always
checked by jsonschema: an acceptance here must never hide a refusal there."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

# Keywords jsonschema does not assert on for Draft 2020-12 (annotations and OpenAPI's own).
_IGNORED = frozenset(
    "description example examples title default discriminator nullable deprecated readOnly "
    "writeOnly $comment externalDocs xml".split()
)


# Checked together in one pass over an object's members (:meth:`_Compiler.object_check`).
_OBJECT_KEYWORDS = frozenset({"properties", "required", "additionalProperties"})


class Unsupported(Exception):
    """The schema uses a keyword this module does not implement."""


def _always(instance: Any) -> bool:
    return True


def _never(instance: Any) -> bool:
    return False


def _all_of(checks: list[Check]) -> Check:
    """One check for several (unrolled for the usual two or three: a send runs this often)."""
    checks = [check for check in checks if check is not _always]
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda x: first(x) and second(x)
    if len(checks) == 3:
        first, second, third = checks
        return lambda x: first(x) and second(x) and third(x)
    every = tuple(checks)

    def all_of(x: Any) -> bool:
        for check in every:
            if not check(x):
                return False
        return True

    return all_of


_PLAIN_TYPES = {"string": str, "object": dict, "array": list}


def _plain_type(schema: Any) -> type | None:
    """The Python type for a schema that only says ``type: string`` (object, array), if it is one."""
    if not isinstance(schema, dict) or not isinstance(schema.get("type"), str):
        return None
    if schema["type"] not in _PLAIN_TYPES:
        return None
    if any(key != "type" and key not in _IGNORED and not key.startswith("x-") for key in schema):
        return None
    return _PLAIN_TYPES[schema["type"]]


def _string_enum(schema: dict[str, Any]) -> bool:
    enum = schema.get("enum")
    return isinstance(enum, list) and all(isinstance(item, str) for item in enum)


class _Compiler:
    def __init__(self, root: dict[str, Any]) -> None:
        from jsonschema import Draft202012Validator
        from jsonschema._utils import equal

        self.root = root
        self.types = Draft202012Validator.TYPE_CHECKER
        self.formats = Draft202012Validator.FORMAT_CHECKER
        self.equal = equal
        self.refs: dict[str, list[Check]] = {}  # pointer -> one-item cell (recursive schemas)
        self.compiling: set[str] = set()

    # -- helpers ---------------------------------------------------------------------
    def type_check(self, name: str) -> Check:
        if name in _PLAIN_TYPES:
            kind = _PLAIN_TYPES[name]
            return lambda x: isinstance(x, kind)
        if name == "boolean":
            return lambda x: x is True or x is False
        if name == "null":
            return lambda x: x is None
        if name in ("integer", "number"):
            is_type = self.types.is_type
            return lambda x: is_type(x, name)
        raise Unsupported(f"type {name!r}")

    def is_number(self, x: Any) -> bool:
        return self.types.is_type(x, "number")

    def ref(self, ref: str) -> Check:
        if not ref.startswith("#/"):
            raise Unsupported(f"$ref {ref!r}")
        cell = self.refs.get(ref)
        if cell is None:
            cell = self.refs[ref] = [_never]
            self.compiling.add(ref)
            node: Any = self.root
            for token in ref[2:].split("/"):
                node = node[token.replace("~1", "/").replace("~0", "~")]
            cell[0] = self.compile(node)
            self.compiling.discard(ref)
        if ref in self.compiling:  # a schema containing itself: look the check up when run
            return lambda x: cell[0](x)
        return cell[0]

    # -- keywords --------------------------------------------------------------------
    def compile(self, schema: Any) -> Check:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            raise Unsupported("schema is not an object")
        checks: list[Check] = []
        fused = {keyword for keyword in _OBJECT_KEYWORDS if keyword in schema}
        if fused:
            checks.append(self.object_check(schema))
            if schema.get("type") == "object":
                fused.add("type")
        for keyword, value in schema.items():
            if keyword in fused or keyword in _IGNORED or keyword.startswith("x-"):
                continue
            builder = getattr(self, "k_" + keyword.lstrip("$"), None)
            if builder is None:
                raise Unsupported(keyword)
            check = builder(value, schema)
            if check is not None:
                checks.append(check)
        return _all_of(checks)

    def object_check(self, schema: dict[str, Any]) -> Check:
        """``type: object``, ``properties``, ``required`` and ``additionalProperties`` as one
        check and one pass over the members, a plain string, object or array member checked
        in place: a closure call costs more than the check it makes, and a send's body goes
        through several such schemas."""
        if "patternProperties" in schema:
            raise Unsupported("patternProperties")
        only_objects = schema.get("type") == "object"
        required = frozenset(schema.get("required", ()))
        kinds: dict[str, type] = {}
        checks: dict[str, Check] = {}
        for name, sub in schema.get("properties", {}).items():
            kind = _plain_type(sub)
            if kind is not None:
                kinds[name] = kind
            else:
                checks[name] = self.compile(sub)
        other = self.compile(schema.get("additionalProperties", True))  # members not in properties
        if other is _always:
            checks = {name: check for name, check in checks.items() if check is not _always}
            members = bool(kinds or checks)
        else:
            checks.update((name, _always) for name in kinds if name not in checks)
            members = True

        def object_check(x: Any) -> bool:
            if not isinstance(x, dict):
                return not only_objects
            if required and not required <= x.keys():
                return False
            if members:
                for name, member in x.items():
                    kind = kinds.get(name)
                    if kind is not None:
                        if not isinstance(member, kind):
                            return False
                        continue
                    check = checks.get(name, other)
                    if check is not _always and not check(member):
                        return False
            return True

        return object_check

    def k_ref(self, value: Any, schema: dict[str, Any]) -> Check:
        return self.ref(value)

    def k_type(self, value: Any, schema: dict[str, Any]) -> Check | None:
        if value == "string" and _string_enum(schema):
            return None  # the enum checks it is a string
        if isinstance(value, str):
            return self.type_check(value)
        alternatives = tuple(self.type_check(name) for name in value)
        return lambda x: any(check(x) for check in alternatives)

    def k_enum(self, value: Any, schema: dict[str, Any]) -> Check:
        if _string_enum(schema):
            allowed = frozenset(value)
            return lambda x: isinstance(x, str) and x in allowed
        equal, items = self.equal, tuple(value)
        return lambda x: any(equal(item, x) for item in items)

    def k_const(self, value: Any, schema: dict[str, Any]) -> Check:
        equal = self.equal
        return lambda x: equal(x, value)

    def k_items(self, value: Any, schema: dict[str, Any]) -> Check | None:
        if "prefixItems" in schema:
            raise Unsupported("prefixItems")
        check = self.compile(value)
        if check is _always:
            return None
        return lambda x: not isinstance(x, list) or all(check(item) for item in x)

    def k_minItems(self, value: Any, schema: dict[str, Any]) -> Check:
        return lambda x: not isinstance(x, list) or len(x) >= value

    def k_maxItems(self, value: Any, schema: dict[str, Any]) -> Check:
        return lambda x: not isinstance(x, list) or len(x) <= value

    def k_minLength(self, value: Any, schema: dict[str, Any]) -> Check:
        return lambda x: not isinstance(x, str) or len(x) >= value

    def k_maxLength(self, value: Any, schema: dict[str, Any]) -> Check:
        return lambda x: not isinstance(x, str) or len(x) <= value

    def k_maxProperties(self, value: Any, schema: dict[str, Any]) -> Check:
        return lambda x: not isinstance(x, dict) or len(x) <= value

    def k_minimum(self, value: Any, schema: dict[str, Any]) -> Check:
        is_number = self.is_number
        return lambda x: not is_number(x) or x >= value

    def k_maximum(self, value: Any, schema: dict[str, Any]) -> Check:
        is_number = self.is_number
        return lambda x: not is_number(x) or x <= value

    def k_pattern(self, value: Any, schema: dict[str, Any]) -> Check:
        search = re.compile(value).search
        return lambda x: not isinstance(x, str) or search(x) is not None

    def k_format(self, value: Any, schema: dict[str, Any]) -> Check:
        conforms = self.formats.conforms
        return lambda x: conforms(x, value)

    def k_allOf(self, value: Any, schema: dict[str, Any]) -> Check:
        return _all_of([self.compile(sub) for sub in value])

    def k_anyOf(self, value: Any, schema: dict[str, Any]) -> Check:
        checks = tuple(self.compile(sub) for sub in value)
        if len(checks) == 2:  # the usual case (a send's "to" or "recipient"), unrolled
            first, second = checks
            return lambda x: first(x) or second(x)
        return lambda x: any(check(x) for check in checks)

    def k_oneOf(self, value: Any, schema: dict[str, Any]) -> Check:
        checks = tuple(self.compile(sub) for sub in value)
        return lambda x: sum(1 for check in checks if check(x)) == 1

    def k_not(self, value: Any, schema: dict[str, Any]) -> Check:
        check = self.compile(value)
        return lambda x: not check(x)


def compile_schema(root: dict[str, Any], schema_pointer: str) -> Check | None:
    """A function telling whether a document is valid against the schema at ``schema_pointer``
    in ``root`` (exactly as jsonschema would judge it), or None when the schema uses a keyword
    not implemented here."""
    try:
        return _Compiler(root).ref("#" + schema_pointer)
    except (Unsupported, KeyError, TypeError, re.error):
        return None
