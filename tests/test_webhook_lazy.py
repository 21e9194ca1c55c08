"""Events from webhook.parse make each field's value on first read. These tests hold them to
what an event built whole (through the dataclass's own __init__) does: equality, repr, pickle,
copy, hashing, the identity of raw and its parts, reads from several threads, and an event
outliving its body and its neighbours."""

import copy
import dataclasses
import gc
import json
import pickle
import sys
import threading

import pytest

from fixture_files import FIXTURES_DIR, all_fixture_paths
from wacloud import webhook
from wacloud.events import FieldUpdate, InboundMessage, StatusUpdate

FIXTURES = all_fixture_paths()


def fresh(path):
    """The events of a fixture, nothing of them read yet."""
    return webhook.parse(path.read_bytes())


def built_whole(event):
    """The same event made by the dataclass's __init__, from another parse of its body."""
    values = {field.name: getattr(event, field.name) for field in dataclasses.fields(event)}
    return type(event)(**values)


def whole_events(path):
    return [built_whole(event) for event in fresh(path)]


def only(name):
    (event,) = webhook.parse((FIXTURES_DIR / name).read_bytes())
    return event


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: path.stem)
def test_a_fresh_event_equals_reprs_and_pickles_as_one_built_whole(path):
    expected = whole_events(path)
    assert fresh(path) == expected
    assert [repr(event) for event in fresh(path)] == [repr(event) for event in expected]
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        assert pickle.loads(pickle.dumps(fresh(path), protocol)) == expected
    assert [copy.copy(event) for event in fresh(path)] == expected
    assert copy.deepcopy(fresh(path)) == expected
    assert [dataclasses.asdict(event) for event in fresh(path)] == [
        dataclasses.asdict(event) for event in expected
    ]
    assert [type(event) for event in fresh(path)] == [type(event) for event in expected]


def test_parse_many_events_are_made_on_first_read_too():
    bodies = [path.read_bytes() for path in FIXTURES]
    expected = [whole_events(path) for path in FIXTURES]
    assert webhook.parse_many(bodies) == expected


def test_parse_makes_no_field_until_read():
    event = only("message__order.json")
    assert not [held for held in gc.get_referents(event) if isinstance(held, (dict, str))]
    message_id = event.message_id
    assert [held for held in gc.get_referents(event) if isinstance(held, (dict, str))] == [message_id]
    raw = event.raw  # with raw, every field is made and the core's parse is let go
    held = gc.get_referents(event)
    assert any(value is raw for value in held) and any(value is event.order for value in held)
    assert len(held) == len(dataclasses.fields(event)) + 1  # the fields' values and the class


def test_a_field_is_made_once_and_kept():
    event = only("message__text.json")
    text, raw = event.text, event.raw
    assert text == "Body Text"
    assert event.text is text
    assert event.raw is raw
    assert event.text is text  # making raw (and the rest) kept the value already read
    assert (
        raw
        == json.loads((FIXTURES_DIR / "message__text.json").read_bytes())["entry"][0]["changes"][0]["value"][
            "messages"
        ][0]
    )


@pytest.mark.parametrize("raw_first", [True, False])
def test_parts_of_raw_are_raws_objects_whichever_is_read_first(raw_first):
    cases = [
        ("message__order.json", lambda e: e.order, lambda raw: raw["order"]),
        ("message__referral.json", lambda e: e.referral, lambda raw: raw["referral"]),
        ("system__phone_number_change.json", lambda e: e.system, lambda raw: raw["system"]),
        ("message__contacts.json", lambda e: e.contacts[0], lambda raw: raw["contacts"][0]),
        ("account_update__account_deleted.json", lambda e: e.value, lambda raw: raw),
    ]
    for name, part, in_raw in cases:
        event = only(name)
        if raw_first:
            raw = event.raw
            assert part(event) is in_raw(raw), name
        else:
            made = part(event)
            assert made is in_raw(event.raw), name
        assert event.raw is event.raw


def test_interactive_content_and_referred_product_are_raws_objects():
    for name in ("callback_selection__callback.json", "flow_completion__completion.json"):
        event = only(name)
        content = event.interactive.content
        assert content is event.raw["interactive"][event.interactive.type]
    body = {
        "from": "1",
        "id": "m",
        "timestamp": "1",
        "type": "text",
        "text": {"body": "x"},
        "context": {"from": "2", "id": "q", "referred_product": {"catalog_id": "c"}},
    }
    (event,) = webhook.parse(
        json.dumps(
            {"entry": [{"id": "1", "changes": [{"field": "messages", "value": {"messages": [body]}}]}]}
        )
    )
    referred = event.context.referred_product
    assert referred == {"catalog_id": "c"}
    assert referred is event.raw["context"]["referred_product"]


def test_hashing_fails_as_for_an_event_built_whole():
    event = only("message__text.json")
    with pytest.raises(TypeError, match="unhashable"):
        hash(built_whole(event))
    with pytest.raises(TypeError, match="unhashable"):
        hash(only("message__text.json"))


def test_classes_keep_their_fields_and_slots():
    event = only("message_status__delivered.json")
    assert type(event) is StatusUpdate
    assert [field.name for field in dataclasses.fields(event)][:7] == [
        "event_type",
        "field",
        "waba_id",
        "phone_number_id",
        "display_phone_number",
        "timestamp",
        "raw",
    ]
    assert not hasattr(event, "__dict__")
    assert StatusUpdate.raw.__get__(None, StatusUpdate) is StatusUpdate.raw
    assert StatusUpdate.status.__name__ == "status"
    assert StatusUpdate.status.__objclass__ is StatusUpdate
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.status = "read"
    with pytest.raises(TypeError, match="doesn't apply"):
        InboundMessage.text.__get__(event, StatusUpdate)


def test_an_event_outlives_its_body_and_its_neighbours():
    path = FIXTURES_DIR / "message_status__delivered.json"
    body = bytearray(path.read_bytes())
    kept = webhook.parse(body) + webhook.parse(bytes(body)) + webhook.parse(body.decode())
    body[:] = b" " * len(body)  # the parse kept nothing of the caller's buffer
    del body
    gc.collect()
    expected = whole_events(path)[0]
    for event in kept:
        assert event == expected

    two = webhook.parse(
        json.dumps(
            {
                "entry": [
                    {
                        "id": "1",
                        "changes": [
                            {
                                "field": "messages",
                                "value": {
                                    "messages": [
                                        {
                                            "from": "1",
                                            "id": "a",
                                            "timestamp": "1",
                                            "type": "text",
                                            "text": {"body": "A"},
                                        },
                                        {
                                            "from": "1",
                                            "id": "b",
                                            "timestamp": "2",
                                            "type": "text",
                                            "text": {"body": "B"},
                                        },
                                    ]
                                },
                            }
                        ],
                    }
                ]
            }
        )
    )
    second = two[1]
    del two
    gc.collect()
    assert (second.text, second.raw["id"], second.message_id) == ("B", "b", "b")


def test_setting_or_deleting_through_object_setattr_loses_nothing():
    event = only("message__order.json")
    object.__setattr__(event, "text", "changed")
    assert event.text == "changed"
    assert event.order is event.raw["order"]
    assert event.message_id == only("message__order.json").message_id

    event = only("message__order.json")
    object.__delattr__(event, "raw")
    with pytest.raises(AttributeError, match="raw"):
        _ = event.raw
    assert event.order == only("message__order.json").order
    object.__delattr__(event, "text")
    with pytest.raises(AttributeError):
        object.__delattr__(event, "text")


def test_threads_reading_one_event_at_once_get_the_same_objects():
    bodies = [path.read_bytes() for path in FIXTURES]
    events = [event for body in bodies for event in webhook.parse(body)]
    names = [[field.name for field in dataclasses.fields(event)] for event in events]
    threads_count = 8
    seen = [[] for _ in range(threads_count)]
    barrier = threading.Barrier(threads_count)

    def read(slot):
        barrier.wait()
        for event, fields in zip(events, names, strict=True):
            # Each thread starts at a different field, so raw and its parts race the others.
            order = fields[slot % len(fields) :] + fields[: slot % len(fields)]
            seen[slot].append({name: getattr(event, name) for name in order})

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=read, args=(slot,)) for slot in range(threads_count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    for index, event in enumerate(events):
        for reads in seen:
            assert all(reads[index][name] is getattr(event, name) for name in names[index])
        if isinstance(event, FieldUpdate):
            assert event.value is event.raw
    assert events == [event for path in FIXTURES for event in whole_events(path)]


def test_a_collection_that_makes_raw_while_a_field_is_made_frees_nothing_in_use():
    # A collection (here at the allocation of the errors list) may run Python code that makes
    # the same event's raw, which lets go of the core's parse the field is being made from.
    made = []

    class MakesRaw:
        __slots__ = ("me",)  # one allocation: the collector's count stays predictable

        def __init__(self):
            self.me = self

        def __del__(self):
            made.append(event.raw)

    # Other threads of the test process (a sandbox's, say) allocating or freeing objects move
    # the collector's count: no thread switch while the collection is set up, and a few tries.
    thresholds, interval = gc.get_threshold(), sys.getswitchinterval()
    sys.setswitchinterval(60)
    try:
        for _ in range(5):
            event = only("message_status__failed.json")
            gc.collect()
            gc.set_threshold(1)  # collect at the second allocation from here: the errors list
            try:
                MakesRaw()
                errors = event.errors
            finally:
                gc.set_threshold(*thresholds)
            if made:
                break
    finally:
        sys.setswitchinterval(interval)
    assert made and made[0] is event.raw  # the collection ran while errors was made
    assert errors is event.errors
    assert errors == whole_events(FIXTURES_DIR / "message_status__failed.json")[0].errors != []


class Cycle:
    """Garbage the collector must finalize: its __del__ is Python code, during which the
    interpreter may hand the GIL to another thread."""

    def __init__(self):
        self.me = self

    def __del__(self):
        pass


def test_collections_while_fields_are_made_let_no_thread_see_a_freed_event():
    # Collections at almost every allocation, each running Python code: a field made by one
    # thread (an errors list, a contact dict) can be interrupted by another making raw.
    events = [event for path in FIXTURES for event in webhook.parse(path.read_bytes())]
    barrier = threading.Barrier(4)

    names = [[field.name for field in dataclasses.fields(event)] for event in events]

    def read(raw_first):
        barrier.wait()
        for event, fields in zip(events, names, strict=True):
            for name in reversed(fields) if raw_first else fields:
                Cycle()  # garbage the next collection, maybe while this field is made, finalizes
                getattr(event, name)

    thresholds, interval = gc.get_threshold(), sys.getswitchinterval()
    gc.set_threshold(1, 1, 1)
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=read, args=(slot % 2 == 0,)) for slot in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(interval)
    assert events == [event for path in FIXTURES for event in whole_events(path)]
    for event in events:
        if isinstance(event, InboundMessage) and event.order is not None:
            assert event.order is event.raw["order"]
