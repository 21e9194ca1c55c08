"""The extension points. Every signal is sent after the transaction that stored
the change has committed, so receivers always see the rows they are told about
(and a rolled-back change is never announced).

``sender`` is always the model class the signal is about. Keyword arguments:

- ``message_received``: ``message`` (the new ``Message``; inbound, or an echo of
  a message the business sent from the WhatsApp Business app), ``event``
  (the parsed ``wacloud.events.InboundMessage``), ``account``, ``contact``,
  ``conversation``, ``webhook_event``.
- ``message_status_changed``: ``message``, ``status`` (the status just applied),
  ``previous_status``, ``event`` (``StatusUpdate``, or ``None`` when a pending
  status was applied to a newly stored message), ``account``.
- ``template_status_changed``: ``template``, ``status``, ``previous_status``,
  ``event`` (``TemplateStatusUpdate``), ``account`` (may be ``None``).
- ``webhook_error``: ``reason`` (``"invalid_signature"`` (also: no secret to
  check against), ``"body_too_large"``, ``"configuration_error"``,
  ``"malformed_body"``, ``"meta_error"``, ``"processing_failed"``), ``error`` (the exception or
  ``None``), ``request`` (the ``HttpRequest`` for errors in the view, else
  ``None``), ``webhook_event`` (the stored row, when there is one), ``event``
  (Meta's ``WebhookError`` event for ``"meta_error"``), ``account``.
- ``consent_changed``: ``contact``, ``purpose`` (``"whatsapp_messaging"``,
  ``"marketing"``), ``status`` (``"granted"``/``"revoked"``, the new current state),
  ``previous_status`` (``None``: nothing recorded before), ``record`` (the new
  ``ConsentRecord``), ``source``, ``account``. Sent only when the current state changed.
- ``conversation_escalated``: ``escalation`` (the new ``Escalation``), ``conversation``,
  ``rule`` (the ``SupportRule`` whose escalate condition matched), ``message`` (the inbound
  message), ``assigned_to`` (a user or ``None``), ``account``.
- ``confirmation_resolved``: ``confirmation`` (the ``Confirmation``), ``status``
  (``"confirmed"``, ``"declined"``, ``"cancelled"`` or ``"expired"``), ``payload`` (the
  caller's data given with the request), ``message`` (the inbound reply, or ``None``),
  ``contact``, ``account``. Sent once per confirmation.
- ``flow_completed``: ``message`` (the inbound ``Message`` holding the ``nfm_reply``),
  ``response`` (its ``response_json`` as a dict), ``flow_token`` (``None`` if absent),
  ``event`` (the ``InboundMessage``), ``account``, ``contact``. Sent once per stored
  completion of a WhatsApp Flow.
- ``flow_request_received``: ``request`` (the decrypted ``FlowRequest`` of a Flow's
  data-exchange endpoint: ``action``, ``screen``, ``data``, ``flow_token``, ...),
  ``response`` (the dict answered: the handler's, ``{"data": {"status": "active"}}`` for a
  ping, an acknowledgement for an error notification), ``account`` (the account of
  ``flows/endpoint/<phone number id>/``, else ``None``). Sent as the request is answered;
  no transaction is involved.
- ``webhook_event_received``: ``event`` (every parsed event of any type, after it
  was applied), ``webhook_event``, ``account``. Fields wacloud does not model
  (account updates, calls, user preferences, ...) arrive only here.
- ``token_expiring``: ``account``, ``status`` (its ``AccessTokenStatus``), ``expires_at``
  (``None``: never), ``days_left``, ``valid`` (false: Meta no longer accepts it). Sent by
  the ``check_token_expiry`` task for a token invalid or expiring within
  ``WACLOUD["TOKEN_EXPIRY_WARNING_DAYS"]``, at most once a day per account.
- ``circuit_opened`` / ``circuit_closed``: ``account``, ``status`` (its
  ``wacloud.circuit.CircuitStatus``), and for ``circuit_opened`` ``error`` (the failure
  that opened it). Sent once per transition, by the process that made it, when a run of
  transient failures from Meta opens the account's circuit breaker and when a probe
  closes it again (a failed probe keeps it open and sends nothing). Not tied to a
  transaction: the breaker's state is not in the database.
"""

from __future__ import annotations

from django.dispatch import Signal

circuit_closed = Signal()
circuit_opened = Signal()
confirmation_resolved = Signal()
consent_changed = Signal()
conversation_escalated = Signal()
flow_completed = Signal()
flow_request_received = Signal()
message_received = Signal()
message_status_changed = Signal()
template_status_changed = Signal()
token_expiring = Signal()
webhook_error = Signal()
webhook_event_received = Signal()

__all__ = [
    "circuit_closed",
    "circuit_opened",
    "confirmation_resolved",
    "consent_changed",
    "conversation_escalated",
    "flow_completed",
    "flow_request_received",
    "message_received",
    "message_status_changed",
    "template_status_changed",
    "token_expiring",
    "webhook_error",
    "webhook_event_received",
]
