"""Email notices against the running console (issue 26 part 2): its jobs (every second here, in
every worker) email the reminders 7 and 1 day ahead, the expiry and the leak report to the owner
through the session's real SMTP server (tests/conftest.py, aiosmtpd), each once however many job
runs and workers go by; with the SMTP server down, the email arrives once it is back."""

from __future__ import annotations

import re

import httpx

from tests.api.conftest import management_token, utc_in, wait_for
from tests.api.test_leak_reports import _body, _post, _signed
from tests.api.test_operations import scrape
from tests.conftest import WORKERS, Console
from tests.smtp_server import SmtpServer

RUNS = ("apikeys_expiry_job_runs_total", (("result", "ok"),))


def _subjects(smtp_server: SmtpServer, email: str) -> list[str]:
    return sorted(received.subject for received in smtp_server.to(email))


def _notices(console: Console, email: str) -> list[tuple[str, str, int]]:
    """(moment kind, email status, attempts) of each of the person's notices."""
    rows = console.rows(
        "SELECT m.kind, n.email_status, n.email_attempts FROM notices n"
        " JOIN key_moments m ON m.id = n.moment_id JOIN users u ON u.id = n.user_id"
        " WHERE lower(u.email) = :email ORDER BY n.id",
        email=email.lower(),
    )
    return [(row[0], row[1], row[2]) for row in rows]


def _job_runs(console: Console) -> float:
    return scrape(console.base_url).get(RUNS, 0.0)


def test_reminders_expiry_and_leak_are_each_emailed_once(console: Console, smtp_server: SmtpServer) -> None:
    keys: dict[str, str] = {}
    email = console.new_user()
    token = management_token(console, email, "keys:read,keys:write")
    with httpx.Client(
        base_url=f"{console.base_url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as api:
        for name, seconds in (("ending", 2), ("week", 5 * 86400), ("day", 12 * 3600), ("leaky", 0)):
            body = {"name": name, "expires_at": utc_in(seconds).isoformat()} if seconds else {"name": name}
            created = api.post("/keys", json=body)
            assert created.status_code == 201, created.text
            keys[name] = created.json()["key_id"]
    leaky = created.json()["secret"]
    report = _body(leaky)
    assert _post(console, report, _signed(report)).json()[0]["label"] == "true_positive"
    expected = [
        "[Key Console] Key “day” expires within 1 day",
        "[Key Console] Key “ending” expired",
        "[Key Console] Key “leaky” was reported leaked",
        "[Key Console] Key “week” expires within 7 days",
    ]

    def arrived() -> bool:
        subjects = _subjects(smtp_server, email)
        return all(any(s.startswith(e) for s in subjects) for e in expected)

    wait_for(arrived, timeout=60, what="the four emails")
    # two more runs of the expiry job in every worker, then whatever they might have queued sent
    runs = _job_runs(console)
    workers = int(WORKERS) if console.backend == "postgres" else 1
    wait_for(lambda: _job_runs(console) >= runs + 2 * workers, timeout=60, what="two more job runs")
    wait_for(lambda: all(status == "sent" for _, status, _ in _notices(console, email)), timeout=30)
    subjects = _subjects(smtp_server, email)
    # the key that ended 2 s after it was made may also have had its 1-day reminder (once)
    reminder = "[Key Console] Key “ending” expires within 1 day"
    assert sorted(s.split(" (")[0] for s in subjects if not s.startswith(reminder)) == expected
    assert len(subjects) == len(set(subjects)) == len(_notices(console, email))
    week = next(r for r in smtp_server.to(email) if "“week”" in r.subject)
    link = re.search(rf"{re.escape(console.base_url)}/w/ws_\w+/keys/{keys['week']}", week.body)
    assert link is not None, week.body
    assert httpx.get(link.group(0), timeout=30).status_code == 200
    leak = next(r for r in smtp_server.to(email) if "leaked" in r.subject)
    assert "https://github.com/octo/app/blob/abc/settings.py#L9" in leak.body and "turned off" in leak.body
    for received in smtp_server.to(email):
        raw = received.message.as_string()
        assert leaky not in raw and leaky[-4:] not in raw.replace(keys["leaky"], "")


def test_with_the_smtp_server_down_the_email_arrives_once_it_is_back(
    console: Console, smtp_server: SmtpServer
) -> None:
    email = console.new_user()
    smtp_server.stop()
    try:
        console.create_key(email, "patient", "--expires-at", utc_in(6 * 86400).isoformat())
        wait_for(
            lambda: any(attempts >= 1 for _, _, attempts in _notices(console, email)),
            timeout=30,
            what="a failed attempt",
        )
        assert smtp_server.to(email) == []
        assert [status for _, status, _ in _notices(console, email)] == ["pending"]
    finally:
        smtp_server.start()
    [received] = wait_for(lambda: smtp_server.to(email), timeout=30, what="the email, later")
    assert received.subject.startswith("[Key Console] Key “patient” expires within 7 days")
    [(kind, _sent, attempts)] = wait_for(  # recorded once the SMTP conversation is over
        lambda: [row for row in _notices(console, email) if row[1] == "sent"], timeout=30
    )
    assert kind == "expiring" and attempts >= 2
