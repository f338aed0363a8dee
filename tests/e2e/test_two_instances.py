"""Two console instances, one PostgreSQL, one Redis, nginx in front (issue 27 item 1).

docs/deploy/nginx-two-instances.conf runs for real (TLS on 127.0.0.1:443, ports and paths
substituted) in front of two production consoles, A and B: separate process groups with their own
ports, data folders and metrics, sharing the suite's PostgreSQL database, Redis and pepper (the
session console is a third instance on them). Each runs two Granian workers.

The tests run in file order, and the later ones kill instances:

1. a key deleted through A's REST API refuses on B at the very next call;
2. the jobs (expiry, refill, usage flush, webhook delivery) act once per period across all the
   instances: one audit event per expired or refilled key, exact usage counts, one delivery per
   message, after every instance has run its jobs several more times;
3. a verify loop through nginx while B's whole process group gets SIGKILL: under 1 % errors until
   nginx's fail_timeout has passed, none afterwards (nginx trying B again included);
4. a signed-in tab whose websocket runs through A: A gets SIGKILL, the tab reconnects through
   nginx to B and carries on with its page state (its search) without signing in again;
5. the rolling upgrade: the previous release (the code just before the newest migration came in)
   runs against the database migrated to head, beside this release.

Instances after the first are started on the frontend the session console built (REFLEX_WEB_WORKDIR
is shared; `tests.harness.serve_built_console`): the same app and Granian server that
`reflex run --env prod` starts, without building the same frontend again. The browser reaches
everything through https://localhost, so the frontend's baked-in port plays no part.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import BACKEND, PASSWORD, ROOT, Console, console_environment
from tests.e2e.conftest import choose, seed_keys
from tests.harness import (
    credentials_in_log,
    free_port,
    stop_console,
    wait_ready,
)
from tests.nginx_site import running_site, skip_unless_runnable
from tests.two_instances import Deployment, Instance, api, execute, new_instance, wait_until
from tests.webhook_receiver import Receiver

# Decided before the session console starts, so the SQLite pass does not start one just to skip.
pytestmark = pytest.mark.skipif(
    BACKEND != "postgres",
    reason="two instances share PostgreSQL + Redis: the TEST_BACKEND=postgres pass runs it",
)

SITE = ROOT / "docs" / "deploy" / "nginx-two-instances.conf"
FAIL_TIMEOUT = int(re.search(r"fail_timeout=(\d+)s", SITE.read_text()).group(1))  # type: ignore[union-attr]
WORKERS_PER_INSTANCE = "2"
LOOP_THREADS = 3
T = 30_000
SCOPES = "keys:read,keys:write,usage:read,audit:read,webhooks:write"


@pytest.fixture(scope="module")
def deployment(
    console: Console, browser_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """A and B behind nginx. It takes pytest-playwright's browser parameter, so all the module's
    tests carry it and pytest keeps them together in file order (the later ones kill instances)."""
    skip_unless_runnable()
    folder = tmp_path_factory.mktemp("two-instances")
    for name in ("a", "b"):
        (folder / f"data-{name}").mkdir(mode=0o700)
    instances = {name: new_instance(console, folder, name, WORKERS_PER_INSTANCE) for name in ("a", "b")}
    upstreams = [
        (r"server 127\.0\.0\.1:3000 ", f"server {instances['a'].upstream} "),
        (r"server 127\.0\.0\.1:3001 ", f"server {instances['b'].upstream} "),
    ]
    (folder / "nginx").mkdir()
    deployment = Deployment(console, instances, folder)
    started = time.monotonic()
    try:
        deployment.running("a", "b")
        print(f"\n[two-instances] A and B up in {time.monotonic() - started:.1f}s")
        with running_site(SITE, folder / "nginx", upstreams) as deployment.proxy:
            yield deployment
    finally:
        for instance in instances.values():
            if instance.process is not None:
                stop_console(instance.process)
    for instance in instances.values():
        for log_path in instance.logs:
            assert not credentials_in_log(log_path), f"credentials in {log_path.name}"
            assert "Traceback (most recent call last)" not in log_path.read_text(errors="replace"), (
                log_path.name
            )


@dataclass(frozen=True)
class Account:
    email: str
    token: str  # a management token of the account's personal workspace; it works on every instance


@pytest.fixture(scope="module")
def account(deployment: Deployment) -> Account:
    """One account for the module (each CLI call starts a Python process: seconds on a busy box)."""
    email = deployment.console.new_user()
    return Account(email, _token(deployment.console, email))


def _token(console: Console, email: str) -> str:
    return console.cli(
        "create-token", email, f"two-{uuid.uuid4().hex[:6]}", "--scopes", SCOPES
    ).stdout.strip()


# ------------------------------------------------------------------ 1. revocation across instances


def test_a_key_deleted_on_one_instance_refuses_on_the_other(deployment: Deployment, account: Account) -> None:
    deployment.running("a", "b")
    a, b = deployment.instances["a"], deployment.instances["b"]
    with api(a, account.token) as api_a:
        made = api_a.post("/keys", json={"name": "revoked-elsewhere"})
        assert made.status_code == 201, made.text
        key = made.json()
        assert b.verify(key["secret"]).json()["valid"] is True
        assert api_a.delete(f"/keys/{key['key_id']}").status_code == 204
    answer = b.verify(key["secret"])  # the very next call, on the other instance
    assert answer.status_code == 200 and answer.json() == {"valid": False, "code": "NOT_FOUND"}


# ------------------------------------------------------------------ 2. jobs once per period


def test_jobs_act_once_per_period_across_instances(deployment: Deployment, account: Account) -> None:
    deployment.running("a", "b")
    a, b = deployment.instances["a"], deployment.instances["b"]
    console = deployment.console
    receiver = Receiver().start()
    endpoint = None
    try:
        with api(a, account.token) as api_a, api(b, account.token) as api_b:
            made_endpoint = api_a.post(
                "/webhooks", json={"url": receiver.url, "events": ["key.created", "key.expired"]}
            )
            assert made_endpoint.status_code == 201, made_endpoint.text
            endpoint = made_endpoint.json()
            receiver.secret = endpoint["secret"]
            soon = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)).isoformat()
            expiring = [
                api.post("/keys", json={"name": f"expiring-{n}", "expires_at": soon}).json()["key_id"]
                for n, api in enumerate([api_a, api_b, api_a, api_b])
            ]
            refilled = api_b.post(
                "/keys", json={"name": "refilled", "credits": 5, "refill": {"amount": 100, "interval": "day"}}
            ).json()
            counted = api_a.post("/keys", json={"name": "counted"}).json()
        made = [*expiring, refilled["key_id"], counted["key_id"]]

        # A new day for the refilled key: its last refill was yesterday and its credits are spent.
        execute(
            console,
            "UPDATE api_keys SET last_refill_at = now() - interval '2 days', credits_remaining = 0"
            " WHERE key_id = :key_id",
            key_id=refilled["key_id"],
        )
        # Usage: calls on both instances, each counting in its own memory and flushing on its own.
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            answers = list(
                pool.map(lambda n: (a, b)[n % 2].verify(counted["secret"]).json()["valid"], range(40))
            )
        assert answers == [True] * 40

        def settled() -> bool:
            statuses = dict(
                console.rows("SELECT key_id, status FROM api_keys WHERE key_id = ANY(:ids)", ids=expiring)
            )
            credits = console.rows(
                "SELECT credits_remaining FROM api_keys WHERE key_id = :k", k=refilled["key_id"]
            )
            return (
                set(statuses.values()) == {"EXPIRED"}
                and credits[0][0] == 100
                and _usage(console, counted["key_id"]) == 40
                and len(receiver.of_type("key.expired")) >= len(expiring)
                and len(receiver.of_type("key.created")) >= len(made)
            )

        wait_until(settled, 60, "the keys expired and refilled, the usage flushed and the webhooks delivered")
        # Every instance runs its jobs at least three more times (the webhook job twice as often).
        before = {name: deployment.instances[name].expiry_runs()[0] for name in ("a", "b")}
        wait_until(
            lambda: all(deployment.instances[n].expiry_runs()[0] >= before[n] + 3 for n in before),
            60,
            "three more expiry job runs on each instance",
        )
        audit = console.rows(
            "SELECT target_id, action, count(*) FROM audit_events WHERE target_id = ANY(:ids)"
            " AND action IN ('key.expire', 'key.refill') GROUP BY target_id, action",
            ids=made,
        )
        assert sorted((key_id, action, n) for key_id, action, n in audit) == sorted(
            [(key_id, "key.expire", 1) for key_id in expiring] + [(refilled["key_id"], "key.refill", 1)]
        )
        assert _usage(console, counted["key_id"]) == 40
        ids = [d.headers["webhook-id"] for d in receiver.deliveries]
        assert len(ids) == len(set(ids)) == len(made) + len(expiring), [
            d.event_type for d in receiver.deliveries
        ]
        assert all(d.verified for d in receiver.deliveries)
        assert sorted(d.payload["data"]["key_id"] for d in receiver.of_type("key.expired")) == sorted(
            expiring
        )
        assert all(deployment.instances[n].expiry_runs()[1] == 0 for n in ("a", "b"))
    finally:
        if endpoint is not None:  # the later tests' keys are no news for a stopped receiver
            with api(a, account.token) as api_a:
                api_a.delete(f"/webhooks/{endpoint['endpoint_id']}")
        receiver.stop()


def _usage(console: Console, key_id: str) -> int:
    [(total,)] = console.rows(
        "SELECT coalesce(sum(u.valid), 0) FROM key_usage_hours u JOIN api_keys k ON k.id = u.key_row_id"
        " WHERE k.key_id = :key_id",
        key_id=key_id,
    )
    return int(total)


# ------------------------------------------------------------------ 3. kill -9 under a verify loop


@dataclass(frozen=True)
class Answer:
    ended: float
    ok: bool
    detail: str


def test_verify_through_nginx_survives_kill_9_of_an_instance(
    deployment: Deployment, account: Account
) -> None:
    deployment.running("a", "b")
    a, b = deployment.instances["a"], deployment.instances["b"]
    with api(a, account.token) as api_a:
        secret = api_a.post("/keys", json={"name": "loop"}).json()["secret"]
    proxy = deployment.nginx
    answers: list[Answer] = []
    stop = threading.Event()

    def loop() -> None:
        with httpx.Client(verify=proxy.tls, timeout=10) as client:
            while not stop.is_set():
                try:
                    response = client.post(
                        f"{proxy.base}/api/v1/verify", headers={"Authorization": f"Bearer {secret}"}
                    )
                    ok = response.status_code == 200 and response.json().get("valid") is True
                    detail = str(response.status_code)
                except httpx.HTTPError as error:
                    ok, detail = False, type(error).__name__
                answers.append(Answer(time.monotonic(), ok, detail))

    def verify_lines(log: list[str]) -> list[str]:
        return [line for line in log if '"POST /api/v1/verify"' in line]

    threads = [threading.Thread(target=loop) for _ in range(LOOP_THREADS)]
    for thread in threads:
        thread.start()
    try:
        # Both instances answer before the kill.
        wait_until(
            lambda: (
                len(answers) >= 200
                and all(
                    any(f"upstream={i.upstream} " in line for line in verify_lines(deployment.access_log()))
                    for i in (a, b)
                )
            ),
            60,
            "verifications answered by both instances",
        )
        logged_before = len(deployment.access_log())
        killed_wall = time.time()
        killed_at = deployment.kill("b")

        def tried_b_again() -> bool:
            """nginx tried B again after fail_timeout (refused, so the request went on to A)."""
            for line in verify_lines(deployment.access_log()[logged_before:]):
                stamp = re.search(r"\[([^\]]+)\]", line)
                retried = f"upstream={b.upstream}, {a.upstream} " in line
                if stamp and retried:
                    when = dt.datetime.strptime(stamp.group(1), "%d/%b/%Y:%H:%M:%S %z").timestamp()
                    if when >= int(killed_wall) + FAIL_TIMEOUT:
                        return True
            return False

        wait_until(tried_b_again, FAIL_TIMEOUT + 30, "nginx to try the killed instance again")
        retried_at = time.monotonic()
        wait_until(
            lambda: time.monotonic() > retried_at + 1 and answers[-1].ended > retried_at + 1,
            30,
            "one more second",
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)

    window_end = killed_at + FAIL_TIMEOUT
    before = [x for x in answers if x.ended < killed_at]
    during = [x for x in answers if killed_at <= x.ended < window_end]
    after = [x for x in answers if x.ended >= window_end]
    failed = [x.detail for x in during if not x.ok]
    rate = len(failed) / max(len(during), 1)
    print(
        f"\n[two-instances] verify loop: {len(before)} before the kill (0 errors allowed), "
        f"{len(during)} in the {FAIL_TIMEOUT}s failover with {len(failed)} errors ({rate:.2%}: {failed}), "
        f"{len(after)} after with {sum(not x.ok for x in after)} errors"
    )
    assert [x.detail for x in before if not x.ok] == []
    assert len(during) >= 100 and rate < 0.01, failed
    assert len(after) >= 50 and [x.detail for x in after if not x.ok] == []
    assert deployment.instances["a"].alive


# ------------------------------------------------------------------ 4. a signed-in tab moves over


def test_a_signed_in_tab_moves_to_the_other_instance_with_its_state(
    deployment: Deployment, account: Account, browser: Browser
) -> None:
    b = deployment.instances["b"]
    deployment.running("a")
    if b.alive:
        deployment.kill("b")  # so the tab's websocket surely runs through A
    console, base = deployment.console, deployment.nginx.base
    email, tag = account.email, uuid.uuid4().hex[:6]
    names = [f"{tag}-alpha-on", f"{tag}-alpha-off", f"{tag}-beta"]
    seed_keys(console, email, names, statuses=["ACTIVE", "INACTIVE", "ACTIVE"])

    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    total, rows = page.locator("#keys-total"), page.locator("#keys-table tbody tr")
    try:
        page.goto(f"{base}/sign-in")
        page.fill("#sign-in-email", email)
        page.fill("#sign-in-password", PASSWORD)
        page.click("#sign-in-submit")
        page.wait_for_url(re.compile(r"^https://localhost/w/ws_\w+/keys/?$"), timeout=T)
        keys_url = page.url
        expect(rows.first).to_be_visible(timeout=T)
        page.fill("#search-keys", f"{tag}-alpha")  # the page's state, kept in Redis under the tab's token
        expect(total).to_have_text("2 keys", timeout=T)
        token = page.evaluate("window.sessionStorage.getItem('token')")
        connected = len(sockets)

        deployment.start("b")
        with page.expect_websocket(timeout=T):  # the tab opens a new one, through nginx to B
            deployment.kill("a")
        moved_at = time.monotonic()
        # A click handled by B: "Active" among the search's two keys is one. Had the tab lost its
        # state (a new token: no search), the filter would show every active key of the account.
        choose(page, "#status-filter", "Active")
        expect(total).to_have_text("1 key", timeout=T)
        expect(rows.first).to_contain_text(f"{tag}-alpha-on")
        expect(page.locator("#search-keys")).to_have_value(f"{tag}-alpha")
        page.fill("#search-keys", f"{tag}-beta")
        expect(rows.first).to_contain_text(f"{tag}-beta", timeout=T)
        moved = time.monotonic() - moved_at
        expect(page.locator("#signed-in-email")).to_have_text(email)
        assert page.url == keys_url  # never sent to sign in again
        assert page.evaluate("window.sessionStorage.getItem('token')") == token
    finally:
        context.close()
    # At least one new websocket (a busy machine may take several tries while B finishes starting,
    # each after the client's back-off), every one through nginx and under the tab's one token.
    assert len(sockets) > connected and all(url.startswith("wss://localhost/_event") for url in sockets)
    assert all(f"token={token}" in url for url in sockets)
    # nginx logs a websocket when it closes: the tab's second one ran through B.
    through_b = re.compile(rf'"GET /_event/" 101 upstream=(?:\S+, )*{re.escape(b.upstream)} ')
    wait_until(
        lambda: any(through_b.search(line) for line in deployment.access_log()), 30, "the websocket via B"
    )
    print(f"\n[two-instances] the tab moved from A to B with its state; clicked through in {moved:.1f}s")


# ------------------------------------------------------------------ 5. the previous release beside this one


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def previous_release() -> tuple[str, str, set[str]]:
    """The code a rolling upgrade replaces: the commit just before the newest migration came in
    (on the first-parent line, so a merged branch counts from its merge). Returns the commit, the
    newest revision and the revisions the current tree knows."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(ROOT / "alembic"))
    (head,) = script.get_heads()
    path = Path(script.get_revision(head).path).resolve().relative_to(ROOT)
    if _git("rev-parse", "--git-dir").returncode != 0:
        pytest.skip("not a git checkout: the previous release cannot be checked out")
    added = _git(
        "log", "--first-parent", "--diff-filter=A", "--format=%H", "-n1", "--", str(path)
    ).stdout.strip()
    wanted = f"{added}^1" if added else "HEAD"  # not committed yet: HEAD is the code before it
    resolved = _git("rev-parse", "--verify", "--quiet", f"{wanted}^{{commit}}")
    if resolved.returncode != 0:
        pytest.skip(f"{wanted} is not in this clone (a shallow clone?)")
    known = {revision.revision for revision in script.walk_revisions()}
    return resolved.stdout.strip(), head, known


def test_the_previous_release_runs_against_the_migrated_database(
    deployment: Deployment, account: Account, tmp_path: Path
) -> None:
    commit, head, known = previous_release()
    deployment.running("b")
    b, console = deployment.instances["b"], deployment.console
    old_root = tmp_path / "previous"
    old_root.mkdir()
    archive = subprocess.run(
        ["git", "archive", commit], cwd=ROOT, capture_output=True, timeout=120, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(old_root)], input=archive.stdout, check=True, timeout=120)

    from alembic.script import ScriptDirectory

    old_heads = set(ScriptDirectory(str(old_root / "alembic")).get_heads())
    assert old_heads < known and head not in old_heads, (old_heads, head)
    [(applied,)] = console.rows("SELECT version_num FROM alembic_version")
    assert applied == head  # the database is migrated to this release's head

    port = free_port()
    (tmp_path / "data-previous").mkdir(mode=0o700)
    env, _ = console_environment(tmp_path / "data-previous", port)
    env = {**env, "APIKEYS_PEPPER": console.env["APIKEYS_PEPPER"], "GRANIAN_WORKERS": "1"}
    env.pop("PYTHONPATH", None)  # nothing of this release on the previous one's path
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    for folder in ("REFLEX_WEB_WORKDIR", "REFLEX_STATES_WORKDIR"):  # its own, not this pass's build
        env.pop(folder, None)
    log_path = tmp_path / "previous.log"
    started = time.monotonic()
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            ["reflex", "run", "--env", "prod", "--backend-only", "--backend-port", str(port)],
            cwd=old_root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{port}/api/v1/health", process, log_path, timeout=300)
        old = Instance("previous", port, env, log_path, process)
        booted = time.monotonic() - started
        # A key made by this release verifies on the previous one, and the other way round.
        with api(b, account.token) as api_b:
            new_secret = api_b.post("/keys", json={"name": "made-by-this-release"}).json()["secret"]
        assert old.verify(new_secret).json()["valid"] is True
        made = subprocess.run(
            [sys.executable, "-m", "rxapp", "create-key", account.email, "made-by-the-previous-release"],
            cwd=old_root, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        old_secret = made.stdout.strip()
        assert old.verify(old_secret).json()["valid"] is True
        assert b.verify(old_secret).json()["valid"] is True
        with api(old, account.token) as api_old:
            rest = api_old.post("/keys", json={"name": "made-over-the-previous-rest-api"})
            assert rest.status_code == 201, rest.text
        assert b.verify(rest.json()["secret"]).json()["valid"] is True
        # Its jobs run against the new schema without a failure.
        runs = old.expiry_runs()[0]
        wait_until(lambda: old.expiry_runs()[0] >= runs + 2, 60, "the previous release's expiry job")
        assert old.expiry_runs()[1] == 0
    finally:
        stop_console(process)
    text = log_path.read_text(errors="replace")
    assert "Traceback (most recent call last)" not in text, text[-3000:]
    assert not credentials_in_log(log_path)
    print(f"\n[two-instances] previous release {commit[:10]} (before migration {head}) up in {booted:.1f}s")
