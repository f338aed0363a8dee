"""Webhooks (issue 26 part 1), split by reason to change:

- `signing`: Standard Webhooks signatures and the `whsec_` secret;
- `targets`: which URLs and addresses a delivery may reach (the SSRF guard);
- `outbox`: events queued in the caller's transaction, and the credits_low scan;
- `endpoints`: an owner's endpoints, their delivery log and Redeliver;
- `delivery`: the job's claim, send and record.
"""

from rxapp.services.webhooks.outbox import (
    EVENTS,
    emit,
    emit_expired,
    emit_expiring,
    emit_key,
    emit_key_leaked,
    scan_reminders,
)

__all__ = ["EVENTS", "emit", "emit_expired", "emit_expiring", "emit_key", "emit_key_leaked", "scan_reminders"]
