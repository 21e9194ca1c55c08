"""Settings of one sandbox: the account it plays, its limits, webhook delivery and faults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class GraphTraffic:
    """What reached the fault layer since the sandbox started: Graph requests that passed the
    token check, faulted or not. Tests count them to show a client did not hammer a failing Meta."""

    requests: int = 0


@dataclass
class Faults:
    """Failure modes to inject. Every knob is off by default.

    Graph requests: ``latency_ms`` (added to every answer, plus up to
    ``latency_jitter_ms``), ``error_rate`` (share of requests answered with a random
    transient error: 131000/500 or 2/503), ``rate_limit_next`` (the next N requests get
    130429), ``timeout_next`` (the next N requests are processed, then the answer is held
    for ``timeout_seconds``, longer than any sane client timeout), ``send_error_next`` (the next
    N message sends are refused with Meta's error ``send_error_code``, e.g. 131049 for the
    per-user marketing limit or 131048 for the spam rate limit).
    Webhooks: ``webhook_drop_rate`` (deliveries never sent), ``webhook_duplicate_rate``
    (delivered twice), ``webhook_reorder_window`` (deliveries sent in reverse order in
    groups of this size, the group waiting at most ``webhook_reorder_hold`` seconds)."""

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rate: float = 0.0
    rate_limit_next: int = 0
    timeout_next: int = 0
    timeout_seconds: float = 60.0
    send_error_next: int = 0
    send_error_code: int = 131049
    webhook_drop_rate: float = 0.0
    webhook_duplicate_rate: float = 0.0
    webhook_reorder_window: int = 0
    webhook_reorder_hold: float = 0.2
    # Resumable uploads: the next upload transfer is cut (connection closed) after this many
    # bytes, which the session keeps, as when a network drops mid-file; 0 is off.
    upload_cut_after: int = 0

    _RATES = ("error_rate", "webhook_drop_rate", "webhook_duplicate_rate")
    _COUNTS = (
        "rate_limit_next",
        "timeout_next",
        "webhook_reorder_window",
        "send_error_next",
        "send_error_code",
        "upload_cut_after",
    )

    def __post_init__(self) -> None:
        self.traffic = GraphTraffic()  # not a knob: clearing the faults keeps the counts

    def update(self, changes: dict[str, Any]) -> None:
        """Apply ``changes`` after checking names and ranges (ValueError names the culprit)."""
        known = {f.name: f for f in dataclasses.fields(self)}
        checked: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(sorted(known))}")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"fault {name!r} must be a number, got {value!r}")
            if value < 0:
                raise ValueError(f"fault {name!r} must not be negative")
            if name in self._RATES and value > 1:
                raise ValueError(f"fault {name!r} is a probability between 0 and 1")
            checked[name] = int(value) if name in self._COUNTS else float(value)
        for name, value in checked.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class SandboxConfig:
    """Everything a sandbox needs; ``Sandbox(**kwargs)`` and the CLI fill it in."""

    access_token: str = "sandbox-token"
    phone_number_id: str = "106540352242922"
    waba_id: str = "102290129340398"
    app_secret: str = "sandbox-app-secret"
    webhook_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    display_phone_number: str = "15550783881"
    verified_name: str = "Sandbox Business"
    # A managed business (parent BSUIDs enabled by Meta): webhooks also carry parent user ids.
    managed_business: bool = False
    state_file: str | None = None
    # Meta's default throughput is 80 messages/s per business number; None disables the check.
    messages_per_second: float | None = 80.0
    # Pair limit: about one message every 6 s to the same user, with bursts of up to 45.
    pair_rate_per_second: float | None = 1 / 6
    pair_burst: int = 45
    # Seconds after acceptance at which sent / delivered / read statuses happen.
    sent_after: float = 0.05
    delivered_after: float = 0.10
    read_after: float = 0.15
    read_receipts: bool = True
    # "sync": free-form sends outside the 24-hour window are refused with 131047;
    # "async": accepted, then a failed status webhook with 131047 (Meta does both).
    window_errors: str = "sync"
    template_review_seconds: float = 0.5
    auto_approve_templates: bool = True
    # Inbound media objects carry a download url (newer Meta payloads do).
    inbound_media_url: bool = False
    # Check request bodies and queries against Meta's OpenAPI spec and answer Meta's code-100
    # error where it refuses them (needs the [sandbox] extra; see docs/sandbox.md).
    spec_validation: bool = True
    webhook_timeout: float = 10.0
    # Meta retries a delivery not answered 200 with decreasing frequency for up to 7 days: the
    # wait starts at webhook_retry_base and doubles up to webhook_retry_max; no attempt is made
    # after webhook_retry_window. Waits run on the sandbox clock, so advance_clock() compresses
    # them. webhook_max_attempts (None: no cap) stops sooner.
    webhook_retry_base: float = 1.0
    webhook_retry_max: float = 3600.0
    webhook_retry_window: float = 7 * 24 * 3600.0
    webhook_max_attempts: int | None = None
    state_save_interval: float = 1.0
    seed: int | None = None
    faults: Faults = field(default_factory=Faults)
    # More access tokens the Graph routes accept (rotation tests), token -> options of
    # TokenBook.register: {"expires_in": 3600, "scopes": [...], "waba_ids": [...], ...}. The
    # access_token itself may be listed to give it an expiry or fewer scopes.
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.window_errors not in ("sync", "async"):
            raise ValueError("window_errors must be 'sync' or 'async'")
        if not self.access_token:
            raise ValueError("access_token must not be empty")
        for name in ("phone_number_id", "waba_id"):
            if not str(getattr(self, name)).isdigit():
                raise ValueError(f"{name} must be digits, like Meta's ids")
        if not isinstance(self.tokens, dict) or not all(
            isinstance(token, str) and token and isinstance(options, dict)
            for token, options in self.tokens.items()
        ):
            raise ValueError("tokens must map each token to a dict of its options")
        if isinstance(self.faults, dict):
            faults = Faults()
            faults.update(self.faults)
            self.faults = faults
