"""A campaign's audience written out as recipient rows, one per recipient, never held in memory:
the account's contacts (optionally with a tag) are iterated, and an uploaded list (CSV text,
a file, or a list of numbers or dicts) is read row by row, normalized by the C++ phone core in
chunks (``WACLOUD["DEFAULT_COUNTRY_CODE"]`` reads national numbers), invalid rows reported with
their line, duplicates merged after normalizing; rows are written in chunks."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from django.utils import timezone

from wacloud import phone
from wacloud.errors import InvalidPhoneNumber

from ...conf import get_setting
from ...models import Campaign, CampaignRecipient, Contact
from .campaign_rows import insert_rows, select_in, table

Recipient = CampaignRecipient.Status
CHUNK = 1000
#: Invalid CSV rows listed one by one in the report (the count covers them all).
MAX_REPORTED_ROWS = 1000
PHONE_COLUMNS = ("phone", "phone_number", "number", "wa_id", "whatsapp_id", "to", "mobile", "msisdn")


class AudienceError(ValueError):
    """``numbers`` is not a CSV or a list."""


def _variant(campaign: Campaign, index: int) -> str:
    """An exact split: of the first n recipients, floor(n * percent / 100) get B."""
    percent = campaign.variant_b_percent
    if not percent:
        return "A"
    return "B" if (index + 1) * percent // 100 > index * percent // 100 else "A"


def _contact_param(source: str, name: str, wa_id: str, profile: Mapping[str, Any]) -> str | None:
    if source.startswith("text:"):
        return source[5:]
    if source == "name":
        return name or None
    if source == "wa_id":
        return wa_id
    value = (profile or {}).get(source[8:]) if source.startswith("profile.") else None
    return None if value in (None, "") else str(value)


def write_contact_audience(campaign: Campaign) -> int:
    """The account's contacts (with the tag, for a tag audience) as recipient rows, streamed.
    A contact missing a parameter is written ``skipped`` (the reason kept). Returns rows written."""
    by_tag = campaign.audience == Campaign.Audience.TAG
    # Only the columns needed: names and profiles may be stored encrypted (decrypting costs).
    columns = [
        "pk",
        "wa_id",
        *(("name", "profile") if campaign.parameters else ()),
        *(("tags",) if by_tag else ()),
    ]
    from ...services.privacy import PSEUDONYM_PREFIX

    # An erased contact is a pseudonym, not a number: never an audience member; neither is a
    # user known by business-scoped user id alone (campaigns go to numbers).
    contacts = (
        Contact.objects.filter(account=campaign.account_id)
        .exclude(wa_id__startswith=PSEUDONYM_PREFIX)
        .exclude(wa_id="")
        .order_by("pk")
    )
    batch: list[dict[str, Any]] = []
    index = written = 0
    for values in contacts.values_list(*columns).iterator(chunk_size=CHUNK):
        contact = dict(zip(columns, values, strict=True))
        # JSON containment is not portable to SQLite, so the tag is checked here (still streamed).
        if by_tag and campaign.audience_tag not in (contact["tags"] or []):
            continue
        wa_id = contact["wa_id"]
        params = [
            _contact_param(source, contact["name"], wa_id, contact["profile"])
            for source in campaign.parameters
        ]
        batch.append(_recipient(campaign, index, contact["pk"], wa_id, params))
        index += 1
        if len(batch) >= CHUNK:
            written += _write(campaign, batch)
            batch = []
    return written + _write(campaign, batch)


def _recipient(
    campaign: Campaign, index: int, contact_id: int | None, wa_id: str, params: list[Any]
) -> dict[str, Any]:
    missing = [source for source, value in zip(campaign.parameters, params, strict=True) if value is None]
    return {
        "contact_id": contact_id,
        "wa_id": wa_id,
        "variant": _variant(campaign, index),
        "params": [value or "" for value in params],
        "status": Recipient.SKIPPED if missing else Recipient.QUEUED,
        "error": f"missing parameter: {', '.join(missing)}" if missing else "",
    }


def _write(campaign: Campaign, batch: list[dict[str, Any]]) -> int:
    # One row per (campaign, wa_id): a number listed twice is merged into its first row.
    now = timezone.now()
    insert_rows(
        CampaignRecipient, {"campaign_id": campaign.pk, "updated_at": now}, batch, now, ignore_conflicts=True
    )
    return len(batch)


def _rows(numbers: Any) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {column: value}) for CSV text/bytes/file or a list of numbers or dicts."""
    if isinstance(numbers, (str, bytes)) or hasattr(numbers, "read"):
        yield from _csv_rows(numbers)
        return
    if not isinstance(numbers, Iterable):
        raise AudienceError("numbers: a CSV file or a list of numbers")
    for line, item in enumerate(numbers, start=1):
        if isinstance(item, Mapping):
            yield (
                line,
                {
                    str(key).strip().lower(): "" if value is None else str(value)
                    for key, value in item.items()
                },
            )
        else:
            yield line, {"phone": "" if item is None else str(item)}


def _csv_rows(source: Any) -> Iterator[tuple[int, dict[str, str]]]:
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    if isinstance(source, str):
        text: Any = io.StringIO(source)
    else:
        if hasattr(source, "seek"):
            source.seek(0)
        # Decoded as it is read (an uploaded file is never read whole); a BOM is dropped.
        text = codecs.getreader("utf-8-sig")(source, errors="replace")
    reader = csv.reader(text)
    header: list[str] | None = None
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            cells = [cell.strip().lower() for cell in row]
            if not any(char.isdigit() for char in cells[0]) or any(name in PHONE_COLUMNS for name in cells):
                header = cells
                continue
            header = ["phone", *[f"column{index}" for index in range(2, len(row) + 1)]]
        yield reader.line_num, {name: value.strip() for name, value in zip(header, row, strict=False)}


def _phone_of(row: Mapping[str, str]) -> str:
    for name in PHONE_COLUMNS:
        if name in row:
            return row[name]
    return next(iter(row.values()), "")


def write_csv_audience(campaign: Campaign, numbers: Any) -> dict[str, Any]:
    """Validate and write an uploaded list: numbers normalized by the C++ phone core
    (``WACLOUD["DEFAULT_COUNTRY_CODE"]`` reads national ones), invalid rows reported with
    their line, duplicates (after normalizing) merged into the first row. Contacts are
    created for new numbers. Returns the report stored on the campaign."""
    from ...services.recipients import recipient_wa_id

    code = get_setting("DEFAULT_COUNTRY_CODE")
    region = str(code).upper() if code and str(code).isalpha() else None
    report: dict[str, Any] = {"rows": 0, "valid": 0, "duplicates": 0, "invalid": 0, "invalid_rows": []}
    missing_columns = set()
    index = 0
    chunk: list[tuple[int, dict[str, str]]] = []

    def flush() -> None:
        nonlocal index
        written = [(line, row) for line, row in chunk]
        chunk.clear()
        wa_ids = phone.normalize_many([_phone_of(row) for _, row in written], region)
        good: dict[str, dict[str, str]] = {}
        for (line, row), wa_id in zip(written, wa_ids, strict=True):
            written_number = _phone_of(row)
            if wa_id is None:
                try:  # the setting's calling code, and the reason when it is not a number
                    wa_id = recipient_wa_id(written_number)
                except InvalidPhoneNumber as error:
                    report["invalid"] += 1
                    if len(report["invalid_rows"]) < MAX_REPORTED_ROWS:
                        report["invalid_rows"].append(
                            {"line": line, "value": written_number[:64], "reason": str(error)[:200]}
                        )
                    continue
            report["valid"] += 1
            good.setdefault(wa_id, row)
        if not good:
            return
        # New numbers become contacts (known ones are kept as they are).
        insert_rows(
            Contact,
            {"account_id": campaign.account_id},
            [{"wa_id": wa_id, "name": (row.get("name") or "")[:200]} for wa_id, row in good.items()],
            timezone.now(),
            ignore_conflicts=True,
        )
        sql = f"SELECT wa_id, id FROM {table(Contact)} WHERE account_id = %s AND wa_id IN ({{}})"
        contact_ids = dict(select_in(sql, list(good), [campaign.account_id]))
        batch = []
        for wa_id, row in good.items():
            params = [_csv_param(source, row, missing_columns) for source in campaign.parameters]
            batch.append(_recipient(campaign, index, contact_ids.get(wa_id), wa_id, params))
            index += 1
        _write(campaign, batch)

    for line, row in _rows(numbers):
        report["rows"] += 1
        chunk.append((line, row))
        if len(chunk) >= CHUNK:
            flush()
    flush()
    report["duplicates"] = report["valid"] - CampaignRecipient.objects.filter(campaign=campaign).count()
    if missing_columns:
        report["missing_columns"] = sorted(missing_columns)
    return report


def _csv_param(source: str, row: Mapping[str, str], missing_columns: set[str]) -> str | None:
    if source.startswith("text:"):
        return source[5:]
    key = source.removeprefix("csv:").lower()
    if key not in row:
        missing_columns.add(key)
        return None
    return row[key] or None
