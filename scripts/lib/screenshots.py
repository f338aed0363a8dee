"""Take the README's screenshots (docs/screenshots/*.png) from a real console with sample data.

Run it with the environment scripts/test sets up (.venv/bin and Node 22 on PATH, REFLEX_USE_NPM=1);
it starts and stops its own console on a free port.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.conftest import Console, _wait_ready, console_environment, free_port  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
EMAIL = "maria@example.com"
PASSWORD = "a-long-demo-password-42"


def _phone(browser, console: Console) -> None:
    """The same console at 390x844: keys as cards, the folded nav, the create dialog."""
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(f"{console.base_url}/sign-in")
    phone.fill("#sign-in-email", EMAIL)
    phone.fill("#sign-in-password", PASSWORD)
    phone.click("#sign-in-submit")
    phone.wait_for_selector("#keys-table")
    phone.wait_for_timeout(1500)
    phone.screenshot(path=OUT / "phone-keys.png")
    phone.click("#nav-toggle")
    phone.wait_for_selector("#nav-activity", state="visible")
    phone.screenshot(path=OUT / "phone-menu.png")
    phone.click("#nav-toggle")
    phone.click("#create-key-button")
    phone.wait_for_selector("#create-submit")
    phone.wait_for_timeout(300)
    phone.screenshot(path=OUT / "phone-create.png")
    phone.close()


def _phone_key_page(browser, console: Console, key_id: str) -> None:
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(f"{console.base_url}/sign-in")
    phone.fill("#sign-in-email", EMAIL)
    phone.fill("#sign-in-password", PASSWORD)
    phone.click("#sign-in-submit")
    phone.wait_for_selector("#keys-table")
    phone.goto(f"{console.base_url}/keys/{key_id}")
    phone.wait_for_selector("#key-page-edit")
    phone.wait_for_timeout(1500)
    phone.screenshot(path=OUT / "phone-key-page.png")
    phone.close()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="screens-"))
    port = free_port()
    env, database_url = console_environment(work, port)
    subprocess.run(["reflex", "db", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    log = open(work / "console.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        ["reflex", "run", "--env", "prod", "--frontend-port", str(port), "--backend-port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    console = Console(f"http://localhost:{port}", env, database_url, work / "console.log", "sqlite", process)
    try:
        _wait_ready(f"{console.base_url}/api/v1/health", process, console.log_path)
        console.cli("create-user", EMAIL, input_text=PASSWORD + "\n")
        console.cli(
            "create-profile",
            EMAIL,
            "strict-hiring",
            "--categories",
            "gender,age,race_ethnicity,disability",
            "--sensitivity",
            "0.8",
            "--action",
            "block",
            "--description",
            "Screening job ads",
        )
        console.cli(
            "create-profile",
            EMAIL,
            "marketing-review",
            "--categories",
            "gender,age",
            "--sensitivity",
            "0.4",
            "--action",
            "flag",
        )
        soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat()
        secrets_by_name = {}
        for name, extra in [
            ("checkout-service production", ["--profile", "strict-hiring"]),
            ("marketing-site", ["--profile", "marketing-review", "--expires-at", soon]),
            ("nightly-report-job", []),
            (
                "partner-integration",
                [
                    *("--profile", "strict-hiring", "--credits", "10000", "--refill", "10000/month@1"),
                    *("--limit", "requests=100/1m", "--permission", "documents.read", "--identity", "acme"),
                ],
            ),
        ]:
            secrets_by_name[name] = console.create_key(EMAIL, name, *extra)
        console.verify(secrets_by_name["checkout-service production"])
        key_ids = [line.split("\t")[0] for line in console.cli("list-keys", EMAIL).stdout.splitlines()[1:]]
        console.cli("set-key-status", EMAIL, key_ids[1], "INACTIVE")

        with sync_playwright() as playwright:
            chromium = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
            browser = playwright.chromium.launch(
                executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1400, "height": 760})
            page.goto(f"{console.base_url}/sign-in")
            page.fill("#sign-in-email", EMAIL)
            page.fill("#sign-in-password", PASSWORD)
            page.screenshot(path=OUT / "sign-in.png")
            page.click("#sign-in-submit")
            page.wait_for_selector("#keys-table")
            page.wait_for_timeout(3500)
            page.screenshot(path=OUT / "keys.png")
            page.click("#create-key-button")
            page.fill("#create-name", "mobile-app")
            page.wait_for_timeout(300)
            page.screenshot(path=OUT / "create.png")
            page.click("#key-limits-toggle")
            page.wait_for_selector("#key-credits")
            page.wait_for_timeout(300)
            page.screenshot(path=OUT / "create-limits.png")
            page.click("#create-submit")
            page.wait_for_selector("#new-key-secret")
            page.click("#copy-new-key")
            page.wait_for_timeout(400)
            page.screenshot(path=OUT / "created.png")
            page.click("#create-done")
            page.click(f"#edit-{key_ids[0]}")
            page.wait_for_selector("#edit-save")
            page.screenshot(path=OUT / "edit.png")
            page.click("#edit-cancel")
            page.click(f"#delete-{key_ids[2]}")
            page.wait_for_selector("#confirm-delete")
            page.screenshot(path=OUT / "delete.png")
            page.click("#delete-cancel")
            page.click("#open-help")
            page.wait_for_selector("#help-dialog")
            page.screenshot(path=OUT / "help.png")
            page.click("#help-close")
            page.click("#nav-profiles")
            page.wait_for_selector("#profiles-table")
            page.screenshot(path=OUT / "profiles.png")
            page.click("#create-profile-button")
            page.wait_for_selector("#profile-save")
            page.screenshot(path=OUT / "profile-form.png")
            page.keyboard.press("Escape")
            page.click("#nav-activity")
            page.wait_for_selector("#activity-table")
            page.wait_for_timeout(500)
            page.screenshot(path=OUT / "activity.png")
            page.goto(f"{console.base_url}/keys/{key_ids[0]}")  # an old link: forwarded to /w/<id>/keys/<key>
            page.wait_for_selector("#key-page-edit")
            page.wait_for_timeout(1500)
            page.screenshot(path=OUT / "key-page.png", full_page=True)
            _phone_key_page(browser, console, key_ids[0])
            _phone(browser, console)
            browser.close()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        log.close()
    print(f"screenshots written to {OUT}")


if __name__ == "__main__":
    main()
