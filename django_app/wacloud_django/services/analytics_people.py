"""Distinct contacts and conversations from the daily rollup (docs/analytics.md).

A count of distinct contacts does not add up over days, so each rollup row keeps the sets
themselves as bitsets (bit ``n`` set: the row with id ``n``), zlib-compressed: the contacts
with a message that day, those that wrote (inbound), the conversations with a message, and
the contacts stored that day. A period's set is the OR of its days' bitsets, plus the ids the
raw tables give for the parts no row covers; its size is the popcount. The database finds the
distinct ids of a day; Python packs them once per day and ORs whole bitsets (no loop over
messages, nor over ids when reading)."""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..analytics_models import ROLLUP_ID_SETS, DailyRollup
from ..models import Contact, Message, Organization
from .analytics_figures import messages_between


def _bitset(ids: Iterable[int]) -> bytes:
    ids = list(ids)
    bits = bytearray(max(ids) // 8 + 1 if ids else 0)
    for n in ids:
        bits[n >> 3] |= 1 << (n & 7)
    return bytes(bits)


def pack(ids: Iterable[int]) -> bytes:
    bits = _bitset(ids)
    return zlib.compress(bits) if bits else b""


def unpack(blob: bytes | memoryview | None) -> int:
    return int.from_bytes(zlib.decompress(bytes(blob)), "little") if blob else 0


def raw_id_sets(
    organization: Organization,
    since: datetime,
    until: datetime,
    accounts: Any = None,
    names: Iterable[str] = ROLLUP_ID_SETS,
) -> dict[int, dict[str, list[int]]]:
    """Per account id, the distinct ids of each set ``names`` (of ``ROLLUP_ID_SETS``) in
    ``[since, until)``."""
    result: dict[int, dict[str, list[int]]] = defaultdict(lambda: {name: [] for name in ROLLUP_ID_SETS})
    messages = messages_between(organization, since, until, accounts)
    queries = {
        "contact_ids": messages.filter(contact__isnull=False).values_list("account_id", "contact_id"),
        "writer_ids": messages.filter(contact__isnull=False, direction=Message.Direction.INBOUND).values_list(
            "account_id", "contact_id"
        ),
        "conversation_ids": messages.filter(conversation__isnull=False).values_list(
            "account_id", "conversation_id"
        ),
    }
    new = Contact.objects.filter(
        account__organization=organization, created_at__gte=since, created_at__lt=until
    )
    if accounts is not None:
        new = new.filter(account__in=accounts)
    queries["new_contact_ids"] = new.values_list("account_id", "pk")
    for name in names:
        for account_id, n in queries[name].order_by().distinct():
            result[account_id][name].append(n)
    return dict(result)


def _bits(ids: Iterable[int]) -> int:
    return int.from_bytes(_bitset(ids), "little")


class PeriodSets:
    """The id sets of the rolled-up ``days`` (ORed over accounts), and unions over any
    sub-period, with the raw tables filling what the days do not cover."""

    def __init__(self, organization: Organization, days: set[date], accounts: Any, now: datetime) -> None:
        self.organization, self.accounts, self.now = organization, accounts, now
        self.by_day: dict[date, dict[str, int]] = {}
        self._raw_cache: dict[tuple[str, datetime, datetime], int] = {}
        if not days:
            return
        rows = DailyRollup.objects.filter(organization=organization, date__gte=min(days), date__lte=max(days))
        if accounts is not None:
            rows = rows.filter(account__in=accounts)
        for day, *blobs in rows.order_by().values_list("date", *ROLLUP_ID_SETS):
            if day not in days:
                continue
            sets = self.by_day.setdefault(day, dict.fromkeys(ROLLUP_ID_SETS, 0))
            for name, blob in zip(ROLLUP_ID_SETS, blobs, strict=True):
                sets[name] |= unpack(blob)

    def union(self, name: str, since: datetime, until: datetime) -> int:
        """The bitset of set ``name`` over ``[since, until)``."""
        value, cursor = 0, since
        day = since.astimezone(UTC).date()
        while True:
            start = datetime.combine(day, time.min, UTC)
            if start >= until:
                break
            end = start + timedelta(days=1)
            if day in self.by_day and start >= since and end <= until:
                if start > cursor:
                    value |= self._raw(name, cursor, start)
                value |= self.by_day[day][name]
                cursor = end
            day += timedelta(days=1)
        if cursor < until:
            value |= self._raw(name, cursor, until)
        return value

    def _raw(self, name: str, since: datetime, until: datetime) -> int:
        # Cohort windows share their edges (a month is one cohort's window and the next one's).
        key = (name, since, until)
        if key not in self._raw_cache:
            sets = raw_id_sets(self.organization, since, until, self.accounts, (name,))
            self._raw_cache[key] = _bits(n for account_sets in sets.values() for n in account_sets[name])
        return self._raw_cache[key]

    def figures(self, since: datetime, until: datetime, zone: ZoneInfo, cohorts_after: int) -> dict[str, Any]:
        """unique and returning contacts, active conversations and cohorts, as the raw
        tables' queries in ``analytics_report`` define them."""
        writers = self.union("writer_ids", since, until)
        # Stored on or after ``since``: in the period, or after it (created after their message).
        later = Contact.objects.filter(
            organization_filter(self.organization, self.accounts), created_at__gte=until
        )
        stored_since = self.union("new_contact_ids", since, until) | _bits(later.values_list("pk", flat=True))
        return {
            "unique_contacts": self.union("contact_ids", since, until).bit_count(),
            "returning": (writers & ~stored_since).bit_count(),
            "active_conversations": self.union("conversation_ids", since, until).bit_count(),
            "cohorts": self._cohorts(since, until, zone, cohorts_after),
        }

    def _cohorts(self, since: datetime, until: datetime, zone: ZoneInfo, after: int) -> list[dict[str, Any]]:
        from .analytics_report import add_months, cohort_row

        answer = []
        month = since.astimezone(zone).date().replace(day=1)
        while datetime.combine(month, time.min, zone) < until:
            start = max(datetime.combine(month, time.min, zone), since)
            end = min(datetime.combine(add_months(month, 1), time.min, zone), until)
            members = self.union("new_contact_ids", start, end)
            retained = []
            for offset in range(1, after + 1):
                window_start = datetime.combine(add_months(month, offset), time.min, zone)
                if window_start >= until:
                    break
                window_end = min(datetime.combine(add_months(month, offset + 1), time.min, zone), until)
                retained.append((members & self.union("writer_ids", window_start, window_end)).bit_count())
            row = cohort_row(month, members.bit_count(), retained)
            if row:
                answer.append(row)
            month = add_months(month, 1)
        return answer


def organization_filter(organization: Organization, accounts: Any) -> Any:
    from django.db.models import Q

    condition = Q(account__organization=organization)
    return condition if accounts is None else condition & Q(account__in=accounts)
