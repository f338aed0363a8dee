"""Workspace key policies against the running console (issue 26, item 4), on every backend: REST
(GET/PUT /api/v1/workspace/policy) and the CLI (`set-policy`) set the policy and list the keys that
break it without changing them; creating keys over REST and the CLI obeys it with stable codes; the
unused-key job (every worker runs it) warns a key once, then disables it once."""

from __future__ import annotations

import datetime as dt

import httpx
import sqlalchemy as sa

from rxapp.models import ApiKey, KeyIdleNotice, WorkspaceKeyPolicy, core_table
from tests.api.conftest import ALL_SCOPES, management_token, wait_for
from tests.conftest import Console

POLICY = "/api/v1/workspace/policy"


def _team(console: Console) -> tuple[str, str, str, dict[str, str]]:
    """A fresh owner, a workspace of theirs ("Team"), its ws_ id and a token there."""
    email = console.new_user()
    workspace_id = console.cli("create-workspace", email, "Team").stdout.strip()
    token = management_token(console, email, ALL_SCOPES, "--workspace", "Team")
    return email, "Team", workspace_id, {"Authorization": f"Bearer {token}"}


def _write(console: Console, statement: sa.Executable) -> None:
    """Change rows behind the console's back (the clock of a test is short), typed as the app types them."""
    engine = sa.create_engine(console.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(statement)
    finally:
        engine.dispose()


def test_rest_and_cli_set_the_policy_list_what_breaks_it_and_enforce_it(console: Console) -> None:
    email, team, workspace_id, headers = _team(console)
    url = f"{console.base_url}{POLICY}"
    keys = f"{console.base_url}/api/v1/keys"
    old = httpx.post(keys, headers=headers, json={"name": "old key"}, timeout=30).json()["secret"]
    assert httpx.get(url, headers=headers, timeout=30).json() == {
        "max_lifetime_days": None,
        "default_lifetime_days": None,
        "require_bias_profile": False,
        "disable_unused_after_days": None,
        "violations": [],
        "violations_total": 0,
    }
    refused = httpx.put(
        url, headers=headers, json={"max_lifetime_days": 30, "default_lifetime_days": 60}, timeout=30
    )
    assert refused.status_code == 422, refused.text
    assert (refused.json()["code"], refused.json()["field"]) == (
        "POLICY_DEFAULT_ABOVE_MAX",
        "default_lifetime_days",
    )
    body = {"max_lifetime_days": 90, "default_lifetime_days": 30, "require_bias_profile": True}
    changed = httpx.put(url, headers=headers, json=body, timeout=30)
    assert changed.status_code == 200, changed.text
    answer = changed.json()
    assert answer["violations_total"] == 1 and answer["violations"][0]["name"] == "old key"
    assert [p["rule"] for p in answer["violations"][0]["problems"]] == [
        "max_lifetime",
        "require_bias_profile",
    ]
    assert console.verify(old).json()["valid"] is True  # listed, not changed

    no_profile = httpx.post(keys, headers=headers, json={"name": "bare"}, timeout=30)
    assert no_profile.status_code == 422
    assert (no_profile.json()["code"], no_profile.json()["field"]) == (
        "POLICY_PROFILE_REQUIRED",
        "bias_profile_id",
    )
    profile = httpx.post(
        f"{console.base_url}/api/v1/profiles", headers=headers, json={"name": "strict"}, timeout=30
    ).json()
    made = httpx.post(
        keys, headers=headers, json={"name": "ok", "bias_profile_id": profile["id"]}, timeout=30
    )
    assert made.status_code == 201, made.text
    ends = dt.datetime.fromisoformat(made.json()["expires_at"])
    assert abs(ends - (dt.datetime.now(dt.UTC) + dt.timedelta(days=30))) < dt.timedelta(minutes=5)
    late = (dt.datetime.now(dt.UTC) + dt.timedelta(days=120)).isoformat()
    too_late = httpx.post(
        keys,
        headers=headers,
        json={"name": "late", "bias_profile_id": profile["id"], "expires_at": late},
        timeout=30,
    )
    assert too_late.status_code == 422
    assert (too_late.json()["code"], too_late.json()["field"]) == ("POLICY_MAX_LIFETIME", "expires_at")
    cli_refused = console.cli("create-key", email, "cli", "--workspace", team, check=False)
    assert cli_refused.returncode == 1 and "requires a Bias Profile" in cli_refused.stderr

    # the CLI changes only the rules it is given, and lists what breaks the policy (workspace by ws_ id)
    shown = console.cli("set-policy", email, workspace_id, "--no-require-profile", "--disable-unused", "60")
    assert shown.stdout.splitlines()[0] == "KEY_ID\tNAME\tBREAKS"
    assert "old key" in shown.stdout and "no end date (max lifetime 90 days" in shown.stdout
    assert "1 existing key(s) break it" in shown.stderr and "none was changed" in shown.stderr
    now = httpx.get(url, headers=headers, timeout=30).json()
    assert (now["max_lifetime_days"], now["require_bias_profile"], now["disable_unused_after_days"]) == (
        90,
        False,
        60,
    )
    audit = httpx.get(f"{console.base_url}/api/v1/audit", headers=headers, timeout=30).json()["data"]
    assert len([e for e in audit if e["action"] == "workspace.key_policy"]) == 2


def test_an_unused_key_is_warned_once_then_disabled_once_by_the_job(console: Console) -> None:
    _email, _team_name, workspace_id, headers = _team(console)
    keys_url = f"{console.base_url}/api/v1/keys"
    idle_key, busy_key = (
        httpx.post(keys_url, headers=headers, json={"name": name}, timeout=30).json()
        for name in ("idle", "busy")
    )

    def key(made: dict) -> dict:  # read over REST: a verify would count as a use
        return httpx.get(f"{keys_url}/{made['key_id']}", headers=headers, timeout=30).json()

    assert console.verify(busy_key["secret"]).json()["valid"] is True  # used now: not idle
    wait_for(lambda: key(busy_key)["last_used_at"], 10, 0.2, "Last Used of the busy key")
    put = httpx.put(
        f"{console.base_url}{POLICY}", headers=headers, json={"disable_unused_after_days": 30}, timeout=30
    )
    assert put.status_code == 200 and put.json()["violations_total"] == 0
    now = dt.datetime.now(dt.UTC)
    keys, rules = core_table(ApiKey), core_table(WorkspaceKeyPolicy)
    workspace = console.rows("SELECT id FROM workspaces WHERE public_id = :ws", ws=workspace_id)[0][0]
    # as if the keys were made 100 days ago and the rule switched on 30 days ago (past its grace)
    _write(
        console,
        sa.update(rules)
        .where(rules.c.workspace_id == workspace)
        .values(disable_unused_since=now - dt.timedelta(days=30)),
    )
    _write(
        console,
        sa.update(keys)
        .where(keys.c.workspace_id == workspace)
        .values(created_at=now - dt.timedelta(days=100)),
    )

    def audit(action: str) -> list[dict]:
        events = httpx.get(f"{console.base_url}/api/v1/audit", headers=headers, timeout=30).json()["data"]
        return [e for e in events if e["action"] == action]

    warned = wait_for(lambda: audit("key.unused_warning"), 60, 0.5, "the unused-key warning")
    violations = httpx.get(f"{console.base_url}{POLICY}", headers=headers, timeout=30).json()["violations"]
    assert [v["name"] for v in violations] == ["idle"]
    assert "will be disabled on" in violations[0]["problems"][0]["message"]
    # the warning's date reached: every worker's job runs; exactly one disables the key
    notices = core_table(KeyIdleNotice)
    _write(
        console,
        sa.update(notices)
        .where(notices.c.workspace_id == workspace)
        .values(disable_on=now - dt.timedelta(minutes=1)),
    )
    wait_for(lambda: key(idle_key)["status"] == "INACTIVE", 60, 0.5, "the disable")
    assert console.verify(idle_key["secret"]).json()["code"] == "INACTIVE"
    assert console.verify(busy_key["secret"]).json()["valid"] is True
    assert [e["target_id"] for e in warned] == [idle_key["key_id"]]
    assert len(audit("key.unused_warning")) == 1
    disabled = audit("key.status")
    assert len(disabled) == 1 and "unused for 30 days: workspace policy" in disabled[0]["detail"]
