import random
import threading
import time

import phonenumbers
import pytest

import wacloud
from wacloud import phone
from wacloud.phone import NumberType, PhoneNumber

AGREEMENT_THRESHOLD = 0.995

# The oracle's types, by the names of ours.
ORACLE_TYPES = {
    NumberType.FIXED_LINE: phonenumbers.PhoneNumberType.FIXED_LINE,
    NumberType.MOBILE: phonenumbers.PhoneNumberType.MOBILE,
    NumberType.FIXED_LINE_OR_MOBILE: phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    NumberType.TOLL_FREE: phonenumbers.PhoneNumberType.TOLL_FREE,
    NumberType.PREMIUM_RATE: phonenumbers.PhoneNumberType.PREMIUM_RATE,
    NumberType.SHARED_COST: phonenumbers.PhoneNumberType.SHARED_COST,
    NumberType.VOIP: phonenumbers.PhoneNumberType.VOIP,
    NumberType.PERSONAL_NUMBER: phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
    NumberType.PAGER: phonenumbers.PhoneNumberType.PAGER,
    NumberType.UAN: phonenumbers.PhoneNumberType.UAN,
    NumberType.VOICEMAIL: phonenumbers.PhoneNumberType.VOICEMAIL,
}


def example_numbers():
    """(label, example) for every region and number type the oracle has an example of,
    plus the non-geographic entities (+800, +882, ...)."""
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for name, oracle_type in ORACLE_TYPES.items():
            example = phonenumbers.example_number_for_type(region, oracle_type)
            if example is not None:
                yield f"{region}/{name.value}", region, example
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is not None:
            yield f"+{code}", None, example


def agreement_cases():
    """(label, text, default_region, oracle number): each example written as E.164, as a
    wa_id (digits, no region) and in its national format with its region."""
    for label, region, example in example_numbers():
        e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        yield label, e164, None, example
        yield label, e164[1:], None, example
        if region is not None:
            national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
            yield label, national, region, phonenumbers.parse(national, region)


def test_agrees_with_phonenumbers_on_every_example_number(record_property):
    cases = list(agreement_cases())
    e164_mismatches, validity_mismatches = [], []
    for label, text, region, oracle in cases:
        expected_e164 = phonenumbers.format_number(oracle, phonenumbers.PhoneNumberFormat.E164)
        expected_valid = phonenumbers.is_valid_number(oracle)
        try:
            parsed = phone.parse(text, region)
            got_e164, got_valid = parsed.e164, parsed.is_valid
        except wacloud.InvalidPhoneNumber as error:
            got_e164, got_valid = f"InvalidPhoneNumber({error.reason})", None
        where = f"{label}: {text!r} region={region}"
        if got_e164 != expected_e164:
            e164_mismatches.append(f"{where} e164 {got_e164} != {expected_e164}")
        if got_valid != expected_valid:
            validity_mismatches.append(f"{where} is_valid {got_valid} != {expected_valid}")
    e164_agreement = 1 - len(e164_mismatches) / len(cases)
    validity_agreement = 1 - len(validity_mismatches) / len(cases)
    report = (
        f"{len(cases)} example numbers against phonenumbers {phonenumbers.__version__}: "
        f"E.164 agreement {e164_agreement:.2%}, is_valid agreement {validity_agreement:.2%}"
    )
    mismatches = e164_mismatches + validity_mismatches
    print(report, *mismatches, sep="\n  ")
    record_property("phone_agreement", report)
    record_property("phone_mismatches", mismatches)
    details = "\n  ".join([report, *mismatches])
    assert len(cases) > 3000, "every region should have examples"
    assert e164_agreement >= AGREEMENT_THRESHOLD, details
    # Validity comes from each library's metadata: ranges assigned after the system
    # libphonenumber was built are invalid to the core but valid to a newer oracle.
    assert validity_agreement >= AGREEMENT_THRESHOLD, (
        details + "\n(if these are new number ranges, the oracle's metadata is newer than the "
        "system libphonenumber's: use the phonenumbers release of the same version)"
    )


def test_parse_returns_a_frozen_dataclass():
    number = phone.parse("020 7946 0958", "GB")
    assert number == PhoneNumber(
        e164="+442079460958",
        wa_id="442079460958",
        region="GB",
        country_code=44,
        national_number="2079460958",
        number_type=NumberType.FIXED_LINE,
        international="+44 20 7946 0958",
        is_valid=True,
        is_possible=True,
    )
    assert str(number) == "+442079460958"
    assert number.number_type == "fixed_line"
    with pytest.raises(AttributeError):
        number.e164 = "+1"  # type: ignore[misc]
    assert wacloud.PhoneNumber is PhoneNumber


def test_possible_but_invalid_number():
    number = phone.parse("+1 (555) 123-4567")
    assert (number.is_possible, number.is_valid, number.number_type) == (True, False, NumberType.UNKNOWN)
    assert phone.normalize("+1 (555) 123-4567") == "15551234567"


@pytest.mark.parametrize(
    ("text", "region", "wa_id"),
    [
        ("15551234567", None, "15551234567"),
        ("+15551234567", None, "15551234567"),
        ("0044 20 7946 0958", None, "442079460958"),
        ("44.20.7946.0958", None, "442079460958"),
        ("(202) 555-0100", "US", "12025550100"),
        ("(202) 555-0100", "us", "12025550100"),
        ("011 44 20 7946 0958", "US", "442079460958"),
        ("0044 20 7946 0958", "US", "442079460958"),
        ("447400123456", "US", "447400123456"),
        ("15123456789", "DE", "4915123456789"),
        ("06 1234 5678", "IT", "390612345678"),
    ],
)
def test_input_rules(text, region, wa_id):
    assert phone.normalize(text, region) == wa_id
    assert phone.to_e164(text, region) == "+" + wa_id
    assert phone.display(text, region) == phone.parse(text, region).international


@pytest.mark.parametrize(
    ("text", "region", "reason"),
    [
        ("hello", None, "not_a_number"),
        ("", None, "not_a_number"),
        ("\ud800 555 0100", None, "not_a_number"),
        ("+999 123 4567", None, "invalid_country_code"),
        ("020 7946 0958", None, "invalid_country_code"),
        ("12", None, "too_short"),
        ("555 0100", "US", "too_short"),
        ("+1 202 555 01000", None, "too_long"),
        ("1" * 300, None, "too_long"),
        ("+7 922 222 22 222", None, "invalid_number"),
        ("+1 202 555 0100 ext. 12", None, "invalid_number"),
        (")980011111", None, "invalid_number"),  # reads back from "+98011111" as +98 11111
    ],
)
def test_error_reasons(text, region, reason):
    with pytest.raises(wacloud.InvalidPhoneNumber) as caught:
        phone.normalize(text, region)
    error = caught.value
    assert error.reason == reason
    assert isinstance(error, ValueError)
    assert error.input == text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")[:1000]
    assert len(str(error)) > len(reason)  # says why in words


@pytest.mark.parametrize("region", ["XX", "ZZ", "001", "GBR", "g"])
def test_unknown_region_raises(region):
    with pytest.raises(wacloud.InvalidPhoneNumber, match="not a known region code") as caught:
        phone.normalize("2025550100", region)
    assert caught.value.reason == "invalid_country_code"


def test_empty_region_means_none():
    assert phone.normalize("15551234567", "") == phone.normalize("15551234567") == "15551234567"


def test_parse_raises_only_for_unreadable_text():
    assert phone.parse("555 0100", "US").is_possible is False
    with pytest.raises(wacloud.InvalidPhoneNumber, match="not a phone number"):
        phone.parse("call me")


def test_is_same_number():
    assert phone.is_same_number("+44 20 7946 0958", "442079460958")
    assert phone.is_same_number("020 7946 0958", "+44 (0)20 7946 0958", "GB")
    assert not phone.is_same_number("+44 20 7946 0958", "+44 20 7946 0959")
    assert phone.is_same_number("garbage", "garbage") is False
    assert phone.is_same_number("+44 20 7946 0958", "") is False


@pytest.mark.parametrize(
    "call",
    [
        lambda: phone.parse(15551234567),
        lambda: phone.normalize(b"15551234567"),
        lambda: phone.to_e164(None),
        lambda: phone.display("15551234567", 1),
        lambda: phone.is_same_number("1", 1),
        lambda: phone.normalize_many(["15551234567", 15551234567]),
        lambda: phone.normalize_many("15551234567"),
        lambda: phone.normalize_many(None),
    ],
)
def test_non_str_input_raises_type_error(call):
    with pytest.raises(TypeError):
        call()


def test_normalize_many_keeps_order_and_marks_bad_entries():
    examples = [phonenumbers.format_number(example, 0) for _, _, example in example_numbers()]
    good = [text for text in examples if phone.parse(text).is_possible]
    assert len(good) > 0.95 * len(examples)
    bad = ["nope", "", "+999 1", "12", "+1 202 555 0100 ext. 1"]
    numbers = [(good[i % len(good)] if i % 7 else bad[i % len(bad)]) for i in range(100_000)]
    result = phone.normalize_many(numbers)
    assert len(result) == len(numbers)
    expected = {}
    for text in set(numbers):
        try:
            expected[text] = phone.normalize(text)
        except wacloud.InvalidPhoneNumber:
            expected[text] = None
    assert result == [expected[text] for text in numbers]
    assert result.count(None) == sum(1 for i in range(100_000) if i % 7 == 0)


def test_normalize_many_accepts_any_iterable_and_region():
    assert phone.normalize_many(iter(["(202) 555-0100", "x"]), "US") == ["12025550100", None]
    assert phone.normalize_many(("0044 20 7946 0958",)) == ["442079460958"]
    assert phone.normalize_many([]) == []
    with pytest.raises(wacloud.InvalidPhoneNumber):
        phone.normalize_many(["1"], "Narnia")


@pytest.mark.serial
def test_normalize_many_releases_the_gil():
    """While one thread runs a large batch, another Python thread keeps running.
    With the GIL held, the ticker would stall for the whole C++ call."""

    # Distinct numbers that need libphonenumber's full parse (an extension): tens of µs each
    # in C++, against a fraction of a µs each to hand the list over and back with the GIL
    # held. Repeated or common-shape numbers cost the core so little that those hand-overs
    # made up a third of the call, and a busy machine's scheduler could stretch them past
    # half of it.
    def numbers(count: int, first: int = 0) -> list[str]:
        return [f"+1 202 555 {i % 10_000:04d} ext. {i // 10_000}" for i in range(first, first + count)]

    started = time.perf_counter()
    phone.normalize_many(numbers(2_000), "US")
    per_item = (time.perf_counter() - started) / 2_000
    # A batch that takes about a second here, however fast this machine is.
    batch = numbers(max(2_000, min(400_000, int(1.0 / per_item))), first=2_000)

    ticks = []
    done = threading.Event()

    def ticker():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    thread = threading.Thread(target=ticker)
    thread.start()
    try:
        time.sleep(0.05)
        begin = time.perf_counter()
        phone.normalize_many(batch, "US")
        end = time.perf_counter()
    finally:
        done.set()
        thread.join()
    inside = [t for t in ticks if begin <= t <= end]
    gaps = [b - a for a, b in zip([begin, *inside], [*inside, end], strict=True)]
    # Without the GIL released the ticker gets no turn for (nearly) the whole call;
    # with it, its longest pause is a scheduler hiccup, far below half the call.
    assert len(inside) >= 10, (len(inside), end - begin)
    assert max(gaps) < (end - begin) / 2, (max(gaps), end - begin)


def full_path_answer(text, region):
    """What normalize() must answer, by the full path: parse() always reads with
    libphonenumber's Parse(), never the fast path or the recent answers."""
    try:
        parsed = phone.parse(text, region)
    except wacloud.InvalidPhoneNumber:
        return None
    return parsed.wa_id if parsed.is_possible else None


def written_forms(number, region, rng):
    """`number` (an oracle number of `region`) written the ways people and machines write
    numbers, the tricky ones included, each with the default regions to read it in."""
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    spaced = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    code, nsn = str(number.country_code), phonenumbers.national_significant_number(number)
    regions = [None, region, rng.choice(["US", "GB", "DE", "IN", "BR", "AR", "IR", "RU", "AU"])]
    forms = [
        e164,
        spaced,
        e164[1:],  # a wa_id
        "00" + e164[1:],
        "011 " + spaced[1:],
        spaced.replace(" ", "-"),
        spaced.replace(" ", "."),
        f"(+{code}) {nsn}",
        f"({code}) {nsn[:3]}/{nsn[3:]}",
        f"tel:+{code}-{nsn}",
        f"+{code} (0){nsn}",  # a trunk prefix kept
        f"+{code} 0{nsn}",
        f"+{code} {national}",  # the national format after the code
        national,  # with a default region only
        national.replace(" ", ""),
        f"+{code}\t{nsn}",
        f"{e164} ext. 12",
        f"{spaced} x34",
        f"+{code} {nsn[:2]}ABC{nsn[2:]}",  # letters
        e164[:-3],  # too short
        e164 + "123",  # too long
        e164[:-1],
        e164 + "4",
        "+00" + e164[1:],  # an international prefix after the "+"
        "+011" + e164[1:],
        "+" + nsn,
    ]
    return [(text, reading) for text in forms for reading in regions]


def random_numbers(rng, count):
    """Random digits after random calling codes, starting with every digit."""
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    out = []
    for _ in range(count):
        code = rng.choice(codes)
        length = rng.randrange(0, 19)
        national = "".join(rng.choice("0123456789") for _ in range(length))
        forms = [f"+{code}{national}", f"{code}{national}", f"00{code} {national}", f"+{code} 0{national}"]
        text = rng.choice(forms)
        out.append((text, rng.choice([None, None, "US", "GB", "DE", "IR", "IT"])))
    return out


def test_normalize_many_agrees_with_the_full_path():
    """The differential test: normalize_many (fast path, recent answers) and normalize
    against libphonenumber's own reading, for every region's example numbers of every
    type, written in every way above, plus random numbers."""
    rng = random.Random(8_12_57)
    cases = []
    for _, region, example in example_numbers():
        cases += written_forms(example, region or "US", rng)
    cases += random_numbers(rng, 20_000)
    cases += [("+98 0011111", None), ("+98 0011111", "IR"), ("980011111", None), (")980011111", None)]
    by_region = {}
    for text, region in cases:
        by_region.setdefault(region, []).append(text)
    mismatches, possible = [], 0
    for region, texts in by_region.items():
        first, again = phone.normalize_many(texts, region), phone.normalize_many(texts, region)
        for text, got, got_again in zip(texts, first, again, strict=True):
            expected = full_path_answer(text, region)
            try:
                single = phone.normalize(text, region)
            except wacloud.InvalidPhoneNumber:
                single = None
            possible += expected is not None
            if not got == got_again == single == expected:
                mismatches.append(f"{text!r} region={region}: {expected} != {got}, {got_again}, {single}")
    print(f"{len(cases)} numbers, {possible} of them possible, {len(mismatches)} mismatches")
    assert len(cases) > 100_000
    assert possible > len(cases) // 5, "many of the inputs should be possible numbers"
    assert not mismatches, f"{len(mismatches)} of {len(cases)}:\n" + "\n".join(mismatches[:30])


def test_normalize_many_answers_recurring_numbers_the_same_every_time():
    """Recurring numbers are answered from the cache after the first batch: the answers
    must not change (how much faster it is, benchmarks/bench_phone.py measures)."""
    wa_ids = [f"4479111{i:05d}" for i in range(2_000)] * 3
    national = [f"07911 1{i:05d}" for i in range(2_000)] * 3  # read by Parse(), then remembered
    first, again = phone.normalize_many(national, "GB"), phone.normalize_many(national, "GB")
    assert first == again == [f"4479111{i:05d}" for i in range(2_000)] * 3
    assert phone.normalize_many(wa_ids) == wa_ids
    assert phone.normalize_many(national, "US") == [None] * len(national)  # the region is in the key
