"""Where ``whatsapp_rotate_key`` stopped, so that a run killed midway resumes there."""

from __future__ import annotations

from django.db import models


class KeyRotationProgress(models.Model):
    """One kind of encrypted data (``message_content``, ``media_files``, ...) being moved
    to one key: the rows up to ``last_pk`` are on it. Reset when a finished kind is run again."""

    key_id = models.CharField(max_length=8, help_text="The key rows are moved to (its id).")
    kind = models.CharField(max_length=32)
    last_pk = models.BigIntegerField(default=0)
    rows_changed = models.PositiveBigIntegerField(default=0)
    started_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name_plural = "key rotation progress"
        constraints = [models.UniqueConstraint(fields=["key_id", "kind"], name="wacloud_key_rotation_kind")]

    def __str__(self) -> str:
        state = "done" if self.finished_at else f"at pk {self.last_pk}"
        return f"{self.kind} to key {self.key_id}: {state}"
