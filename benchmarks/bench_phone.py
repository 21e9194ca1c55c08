"""``wacloud.phone.normalize_many`` against the ``phonenumbers`` package, measured in the same run.

Two workloads, both read with no default region (WhatsApp's own way: ``+`` or ``00`` or bare
digits carry the country calling code):

a. 20,000 distinct numbers written as people write them: phonenumbers' example numbers of every
   region and number type, their last digits varied, then formatted in several human ways
   (E.164, international with spaces, dashes or dots, a leading ``00``, bare digits, ``(+44)``,
   a trunk prefix in parentheses, ``tel:``, stray spaces);
b. webhook traffic: 100,000 wa_ids drawn (skewed, as chatty contacts are) from 2,000 distinct ones.

The baseline is what a Python service would write with the package: ``phonenumbers.parse`` (after
the same ``00``/bare-digits rule), ``is_possible_number`` and E.164 formatting, one number at a
time. The goals are 10x on (a) and 50x on (b).

Run: ``.venv/bin/python benchmarks/bench_phone.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable
from typing import Any

import phonenumbers

from wacloud import phone

GOALS = {"realistic": 10.0, "webhook": 50.0}
NUMBER_TYPES = (
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    phonenumbers.PhoneNumberType.TOLL_FREE,
    phonenumbers.PhoneNumberType.VOIP,
)


def best_of(repeats: int, work: Callable[[], Any]) -> float:
    """The fastest of `repeats` runs, in seconds: the least disturbed by the machine."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def example_numbers() -> list[phonenumbers.PhoneNumber]:
    examples = {}
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for number_type in NUMBER_TYPES:
            example = phonenumbers.example_number_for_type(region, number_type)
            if example is not None:
                examples[phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)] = example
    return list(examples.values())


def varied(example: phonenumbers.PhoneNumber, rng: random.Random) -> phonenumbers.PhoneNumber:
    """The example with its last digits replaced: another number of the same range (mostly)."""
    national = phonenumbers.national_significant_number(example)
    keep = max(2, len(national) - 4)
    digits = national[:keep] + "".join(rng.choice("0123456789") for _ in range(len(national) - keep))
    return phonenumbers.parse(f"+{example.country_code}{digits}", None)


def human_form(number: phonenumbers.PhoneNumber, rng: random.Random) -> str:
    """`number` as a person might type it into a form, with its country calling code."""
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    spaced = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    code = str(number.country_code)
    rest = spaced[len(code) + 2 :]  # "7911 123456"
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    forms = [
        (20, e164),
        (25, spaced),
        (12, "00" + spaced[1:]),
        (12, e164[1:]),
        (8, spaced.replace(" ", "-")),
        (4, spaced.replace(" ", ".")),
        (5, f"(+{code}) {rest}"),
        (4, f"  {spaced} "),
        (2, "tel:" + spaced.replace(" ", "-")),
    ]
    if national.startswith("0") and not rest.startswith("0"):
        forms.append((8, f"+{code} (0){national[1:]}"))  # the trunk prefix some people keep
    weights, texts = zip(*forms, strict=True)
    return rng.choices(texts, weights=weights)[0]


def realistic_numbers(count: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    examples = example_numbers()
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        text = human_form(varied(rng.choice(examples), rng), rng)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def webhook_traffic(count: int, distinct: int, seed: int = 2) -> list[str]:
    """wa_ids as Meta sends them (E.164 digits, no "+"), the busiest contacts most often."""
    rng = random.Random(seed)
    mobiles = [
        example
        for example in example_numbers()
        if phonenumbers.number_type(example)
        in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    ]
    ids: set[str] = set()
    while len(ids) < distinct:
        number = varied(rng.choice(mobiles), rng)
        ids.add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:])
    pool = sorted(ids)
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(pool))]
    return rng.choices(pool, weights=weights, k=count)


def baseline_normalize(numbers: list[str]) -> list[str | None]:
    """The phonenumbers package with wacloud's reading of text without a "+"."""
    results: list[str | None] = []
    for text in numbers:
        if "+" not in text:
            digits = "".join(c for c in text if c.isdigit())
            text = "+" + (digits[2:] if digits.startswith("00") else digits)
        try:
            parsed = phonenumbers.parse(text, None)
        except phonenumbers.NumberParseException:
            results.append(None)
            continue
        if phonenumbers.is_possible_number(parsed):
            results.append(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)[1:])
        else:
            results.append(None)
    return results


def compare(name: str, title: str, numbers: list[str], repeats: int) -> float:
    ours, theirs = phone.normalize_many(numbers), baseline_normalize(numbers)
    agreement = sum(a == b for a, b in zip(ours, theirs, strict=True)) / len(numbers)
    ours_s = best_of(repeats, lambda: phone.normalize_many(numbers))
    base_s = best_of(repeats, lambda: baseline_normalize(numbers))
    ratio = base_s / ours_s
    goal = GOALS[name]
    print(f"{title} (agreement with the baseline {agreement:.2%})")
    print(f"  wacloud normalize_many     {len(numbers) / ours_s:>12,.0f} numbers/s")
    print(f"  baseline phonenumbers      {len(numbers) / base_s:>12,.0f} numbers/s")
    print(f"  ratio vs baseline: {ratio:.1f}x (goal {goal:.0f}x: {'met' if ratio >= goal else 'NOT met'})")
    return ratio


def load_average() -> str:
    return "load average " + ", ".join(f"{value:.2f}" for value in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for a smoke run")
    args = parser.parse_args(argv)
    distinct, traffic, wa_ids = (5_000, 20_000, 2_000) if args.quick else (20_000, 100_000, 2_000)
    repeats = 2 if args.quick else 5
    print(
        f"phone benchmark: phonenumbers {phonenumbers.__version__}, {os.cpu_count()} cpus, {load_average()}"
    )
    numbers = realistic_numbers(distinct)
    compare("realistic", f"a. {distinct:,} distinct numbers as people write them", numbers, repeats)
    compare(
        "webhook",
        f"b. webhook traffic: {traffic:,} wa_ids drawn from {wa_ids:,}",
        webhook_traffic(traffic, wa_ids),
        repeats,
    )
    print(f"after: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
