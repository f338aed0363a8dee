"""Notices (issue 26 part 2): what people hear about their keys, split by reason to change:

- `moments`: THE place that decides "key X reached moment M" (expiring 30/7/1 days before its end
  date, expired, reported leaked), records it once, and tells the webhook outbox and the people;
- `inbox`: each person's notices in the console (list, count, dismiss), the wording shared with
  the emails, and the per-person email opt-out;
- `emails`: the email outbox: claim due emails with a lease, compose them, record each outcome;
- `smtp`: the SMTP conversation itself (stdlib smtplib; STARTTLS or implicit TLS).
"""
