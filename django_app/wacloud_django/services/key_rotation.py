"""Key rotation: every secret and every encrypted message field and media file moved
to ``WACLOUD["ENCRYPTION_KEY"]``, in batches by primary key, resumably; and the check
that the configured keys read what is stored (``manage.py check``).

Rotating a key: put the new key in ``ENCRYPTION_KEY``, move the old one to
``ENCRYPTION_KEY_FALLBACKS``, run ``whatsapp_rotate_key``, then drop the old key.
A value's key id is written in its token (or file header), so rows already on the
current key are skipped without being decrypted, and a run killed midway continues
from the last batch it committed (:class:`~wacloud_django.models.KeyRotationProgress`).
With ``ENCRYPT_MESSAGES``/``ENCRYPT_MEDIA`` on, rows stored before that in plaintext
are encrypted by the same run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.files import File
from django.db import models, transaction
from django.db.models.functions import Cast
from django.utils import timezone

from ..crypto import current_key_id, decrypt, encrypt, keys_by_id, token_key_id
from ..encrypted_fields import (
    encryption_forced,
    is_redaction_marker,
    looks_encrypted,
    media_encrypted,
    messages_encrypted,
    open_stored,
)
from ..exceptions import DecryptionError, SettingError
from ..log_privacy import get_logger
from ..models import BusinessAccount, KeyRotationProgress, MediaFile, Message, SupportRule
from ..stream_crypto import HEADER_BYTES, encrypting, header_key_id
from . import audit

logger = get_logger("wacloud.key_rotation")

BATCH_SIZE = 500
#: Values per column (half the oldest, half the newest) the system check looks at.
CHECK_SAMPLE = 50
#: Media files the check opens to read their header (a remote storage may fetch each whole).
CHECK_FILE_SAMPLE = 4


@dataclass(frozen=True)
class _Kind:
    name: str
    model: type[models.Model]
    columns: tuple[str, ...]
    #: "secret": a token column written by hand; "field": an encrypted model field; "file": media.
    storage: str

    def purpose(self, column: str) -> str:
        return f"{self.model._meta.label}.{column.removesuffix('_encrypted')}"


KINDS = (
    _Kind(
        "account_secrets",
        BusinessAccount,
        ("access_token_encrypted", "app_secret_encrypted", "verify_token_encrypted"),
        "secret",
    ),
    _Kind("support_rule_secrets", SupportRule, ("webhook_secret_encrypted",), "secret"),
    _Kind("message_content", Message, ("text", "content", "raw"), "field"),
    _Kind("media_captions", MediaFile, ("caption",), "field"),
    _Kind("media_files", MediaFile, ("file",), "file"),
)


def _is_json(kind: _Kind, column: str) -> bool:
    return isinstance(kind.model._meta.get_field(column), models.JSONField)


def _token(raw: str | None, is_json: bool) -> str | None:
    """The token stored in a raw column value, or ``None`` for plaintext."""
    if not raw:
        return None
    if is_json:
        return raw[1:-1] if raw.startswith('"wac1:') and raw.endswith('"') else None
    return raw if looks_encrypted(raw) else None


def _plaintext_to_encrypt(raw: str | None, is_json: bool) -> bool:
    if not raw:
        return False
    if not is_json:
        return True
    try:
        value = json.loads(raw)
    except ValueError:
        return False
    return value not in (None, {}, [], "") and not is_redaction_marker(value)


def _raw_rows(kind: _Kind, queryset: models.QuerySet) -> Iterable[tuple[Any, ...]]:
    """``(pk, *stored values)``: the columns as stored, never decrypted."""
    raw = {f"stored_{column}": Cast(column, models.TextField()) for column in kind.columns}
    return queryset.annotate(**raw).values_list("pk", *raw)


# -- rotation -------------------------------------------------------------------------------


class _Run:
    def __init__(self, key_id: str, dry_run: bool, batch_size: int, tick: Callable[[int], None]) -> None:
        self.key_id, self.dry_run, self.batch_size, self.tick = key_id, dry_run, batch_size, tick
        self.encrypt_messages, self.encrypt_media = messages_encrypted(), media_encrypted()
        self.errors: list[str] = []

    def columns_to_change(self, kind: _Kind, stored: Iterable[str | None]) -> list[str]:
        changed = []
        for column, raw in zip(kind.columns, stored, strict=True):
            is_json = _is_json(kind, column)
            token = _token(raw, is_json)
            if token is not None:
                if token_key_id(token) != self.key_id:
                    changed.append(column)
            elif kind.storage == "field" and self.encrypt_messages and _plaintext_to_encrypt(raw, is_json):
                changed.append(column)
        return changed

    def rewrite_fields(self, kind: _Kind, work: dict[int, list[str]]) -> int:
        """Inside the batch's transaction. Each row is read again under its lock: a write
        (an edit, a redaction) that landed since the scan is re-encrypted, never undone."""
        done = 0
        rows = kind.model.objects.select_for_update()
        for pk, columns in work.items():
            try:
                if kind.storage == "secret":
                    stored = rows.filter(pk=pk).values_list(*columns).get()
                    values = {
                        column: encrypt(decrypt(token, kind.purpose(column)), kind.purpose(column))
                        for column, token in zip(columns, stored, strict=True)
                    }
                else:
                    row = rows.only(*columns).get(pk=pk)  # decrypted on the way in
                    values = {column: getattr(row, column) for column in columns}
            except kind.model.DoesNotExist:
                continue  # deleted since the scan (retention, erasure)
            except (DecryptionError, SettingError) as exc:
                self.errors.append(f"{kind.name} pk {pk}: {exc}")
                continue
            with encryption_forced():
                kind.model.objects.filter(pk=pk).update(**values)
            done += 1
        return done

    def file_to_change(self, name: str) -> bool:
        storage = MediaFile._meta.get_field("file").storage
        try:
            with storage.open(name, "rb") as handle:
                key_id = header_key_id(handle.read(HEADER_BYTES))
        except FileNotFoundError:
            return False
        return key_id != self.key_id if key_id is not None else self.encrypt_media

    def rewrite_file(self, pk: int, name: str) -> bool:
        """The file re-encrypted under a new name; the row then points at it and the old one goes.
        A run killed between the two leaves an unused copy, never a row without its file."""
        storage = MediaFile._meta.get_field("file").storage
        purpose = MediaFile._meta.label + ".file"
        try:
            with open_stored(storage, name, purpose) as source:
                new_name = storage.save(name, File(encrypting(source, purpose), name=name), max_length=500)
        except (DecryptionError, SettingError, OSError) as exc:
            self.errors.append(f"media_files pk {pk} ({name}): {exc}")
            return False
        if MediaFile.objects.filter(pk=pk, file=name).update(file=new_name):
            storage.delete(name)
            return True
        storage.delete(new_name)  # the row changed meanwhile (retention, erasure): keep nothing
        return False

    def kind(self, kind: _Kind) -> dict[str, int]:
        progress = None
        start = 0
        if not self.dry_run:
            progress, _ = KeyRotationProgress.objects.get_or_create(
                key_id=self.key_id, kind=kind.name, defaults={"started_at": timezone.now()}
            )
            if progress.finished_at is not None:  # a new run over a finished kind starts again
                progress.last_pk, progress.rows_changed = 0, 0
                progress.started_at, progress.finished_at = timezone.now(), None
                progress.save()
            start = progress.last_pk
        counts = {"resumed_from_pk": start, "scanned": 0, "changed": 0}
        queryset = kind.model.objects.order_by("pk")
        last = start
        while True:
            page = list(_raw_rows(kind, queryset.filter(pk__gt=last))[: self.batch_size])
            if not page:
                break
            if kind.storage == "file":
                work = {pk: [stored] for pk, stored in page if stored and self.file_to_change(stored)}
            else:
                work = {pk: cols for pk, *stored in page if (cols := self.columns_to_change(kind, stored))}
            last = page[-1][0]
            counts["scanned"] += len(page)
            if self.dry_run:
                counts["changed"] += len(work)
            elif kind.storage == "file":
                counts["changed"] += sum(self.rewrite_file(pk, names[0]) for pk, names in work.items())
                KeyRotationProgress.objects.filter(pk=progress.pk).update(
                    last_pk=last, rows_changed=models.F("rows_changed") + len(work)
                )
            else:
                with transaction.atomic():  # the batch and where it ends commit together
                    changed = self.rewrite_fields(kind, work)
                    counts["changed"] += changed
                    KeyRotationProgress.objects.filter(pk=progress.pk).update(
                        last_pk=last, rows_changed=models.F("rows_changed") + changed
                    )
            self.tick(len(page))
        if progress is not None:
            KeyRotationProgress.objects.filter(pk=progress.pk).update(finished_at=timezone.now())
        return counts


def rotate_keys(
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    kinds: Iterable[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Move every encrypted value to the current key (and, with encryption on, encrypt
    plaintext rows). ``progress(done, total)`` is called after every committed batch.
    Returns ``{"key_id", "dry_run", "kinds": {name: counts}, "errors": [...]}``. Audited."""
    chosen = [kind for kind in KINDS if kinds is None or kind.name in set(kinds)]
    total = sum(kind.model.objects.count() for kind in chosen)
    done = 0

    def tick(rows: int) -> None:
        nonlocal done
        done += rows
        if progress is not None:
            progress(done, total)

    run = _Run(current_key_id(), dry_run, max(1, batch_size), tick)
    counts = {kind.name: run.kind(kind) for kind in chosen}
    result = {
        "key_id": run.key_id,
        "dry_run": dry_run,
        "kinds": counts,
        "error_count": len(run.errors),
        "errors": run.errors[:50],
    }
    if not dry_run:
        changes = {name: kind_counts["changed"] for name, kind_counts in counts.items()}
        with transaction.atomic():
            audit.record(
                "encryption.rotate_key",
                organization=None,
                changes={"key_id": run.key_id, **changes, "errors": len(run.errors)},
            )
    return result


# -- the system check -----------------------------------------------------------------------


def _sampled_tokens(kind: _Kind, column: str, sample: int) -> list[str]:
    """The tokens among the oldest and newest rows' values: two short index scans
    (filtering on the prefix instead could read a whole table that holds none)."""
    is_json = _is_json(kind, column)
    stored = kind.model.objects.annotate(stored=Cast(column, models.TextField()))
    half = max(1, sample // 2)
    values = dict(stored.order_by("pk").values_list("pk", "stored")[:half])
    values.update(stored.order_by("-pk").values_list("pk", "stored")[:half])  # a small table: both ends meet
    return [token for raw in values.values() if (token := _token(raw, is_json))]


def _sampled_file_key_ids(sample: int) -> list[str]:
    storage = MediaFile._meta.get_field("file").storage
    files = MediaFile.objects.exclude(file="")
    half = max(1, sample // 2)
    names = list(files.order_by("pk").values_list("file", flat=True)[:half])
    names += files.order_by("-pk").values_list("file", flat=True)[:half]
    key_ids = []
    for name in dict.fromkeys(names):
        try:
            with storage.open(name, "rb") as handle:
                key_id = header_key_id(handle.read(HEADER_BYTES))
        except OSError:
            continue  # a missing file is retention's or the downloader's business
        if key_id is not None:
            key_ids.append(key_id)
    return key_ids


def stored_key_problems(sample: int = CHECK_SAMPLE) -> tuple[list[str], list[str]]:
    """``(errors, warnings)`` about a bounded sample of every encrypted kind stored:
    an error per kind whose values use a key no setting has (or that fails to decrypt),
    a warning per kind with values still on a fallback key. Account secrets are only
    warned about here: check ``wacloud.E015`` decrypts them all."""
    keys = keys_by_id()
    current = current_key_id()
    errors: list[str] = []
    warnings: list[str] = []
    for kind in KINDS:
        unknown: dict[str, int] = {}
        fallback: dict[str, int] = {}
        if kind.storage == "file":
            key_ids = _sampled_file_key_ids(min(sample, CHECK_FILE_SAMPLE))
        else:
            key_ids = []
            for column in kind.columns:
                tokens = _sampled_tokens(kind, column, sample)
                key_ids += [token_key_id(token) or "" for token in tokens]
                if kind.name == "account_secrets":  # wacloud.E015 decrypts every one
                    continue
                tried = set()
                for token in tokens:  # one decryption per key: is it really that key?
                    key_id = token_key_id(token)
                    if key_id in keys and key_id not in tried:
                        tried.add(key_id)
                        try:
                            decrypt(token, kind.purpose(column))
                        except DecryptionError as exc:
                            errors.append(f"{kind.name}: {exc}")
        for key_id in key_ids:
            if key_id not in keys:
                unknown[key_id] = unknown.get(key_id, 0) + 1
            elif key_id != current:
                fallback[key_id] = fallback.get(key_id, 0) + 1
        if unknown and kind.name != "account_secrets":
            errors += [f"{kind.name}: {n} sampled value(s) use key {key_id}" for key_id, n in unknown.items()]
        warnings += [
            f"{kind.name}: {n} sampled value(s) are still on fallback key {key_id}"
            for key_id, n in fallback.items()
        ]
    return errors, warnings


__all__ = ["BATCH_SIZE", "CHECK_SAMPLE", "KINDS", "rotate_keys", "stored_key_problems"]
