"""Every route path in one place.

Per-workspace pages carry the workspace in their address (`/w/<workspace public id>/keys`, ...), so
a link names what it shows and opens the same in any tab. Their old addresses without it (`/keys`,
`/keys/<key_id>`, `/profiles`, ...) still work: a small page forwards them (rxapp/pages/legacy.py).
Build every in-app link with the helpers below; they take plain strings or Reflex string vars.
"""

import re
from typing import Any
from urllib.parse import urlencode, urlsplit

HOME = "/"
SIGN_IN = "/sign-in"
SIGN_UP = "/sign-up"
KEYS = "/keys"
KEY_DETAIL = "/keys/[key_id]"  # one key: usage chart, roll chain, rotation assistant, audit trail
PROFILES = "/profiles"
ACTIVITY = "/activity"
ACCOUNT = "/account"
NOTICES = "/notices"  # the signed-in person's notices: key reminders, expiries, leaks (every workspace)
TOKENS = "/tokens"  # management API tokens of the current workspace
WEBHOOKS = "/webhooks"  # the workspace's webhook endpoints and their delivery logs (owners)
MEMBERS = "/members"  # the workspace's members, invitations and settings
ADMIN = "/admin"
INVITATION = "/invite"  # ?token=inv_...: signs the person in or up, then joins the workspace

# The pages that show one workspace. Each lives under WORKSPACE_PREFIX/<public id>; the bare
# address is an old link, forwarded to the workspace the person is in (or, for a key, the key's).
WORKSPACE_PREFIX = "/w"
WORKSPACE_ARG = "workspace_id"  # the dynamic segment's name (a state var on every page's state)
WORKSPACE_PAGES = (KEYS, PROFILES, ACTIVITY, MEMBERS, TOKENS, WEBHOOKS)
LEGACY_ROUTES = (*WORKSPACE_PAGES, KEY_DETAIL)


def workspace_route(page: str) -> str:
    """The Reflex route of a per-workspace page: `/keys` -> `/w/[workspace_id]/keys`."""
    return f"{WORKSPACE_PREFIX}/[{WORKSPACE_ARG}]{page}"


W_KEYS = workspace_route(KEYS)
W_KEY_DETAIL = workspace_route(KEY_DETAIL)
W_PROFILES = workspace_route(PROFILES)
W_ACTIVITY = workspace_route(ACTIVITY)
W_MEMBERS = workspace_route(MEMBERS)
W_TOKENS = workspace_route(TOKENS)
W_WEBHOOKS = workspace_route(WEBHOOKS)

API_PREFIX = "/api/v1"
API_VERIFY = f"{API_PREFIX}/verify"
API_HEALTH = f"{API_PREFIX}/health"
API_NOOP = f"{API_PREFIX}/noop"
API_AUTHORIZE = f"{API_PREFIX}/authorize"
API_DOCS = "/api/docs"  # Swagger UI from packaged files (rxapp/api/docs.py)
API_AUTH_PREFIX = f"{API_PREFIX}/auth"
API_SIGN_IN = f"{API_AUTH_PREFIX}/sign-in"
API_SIGN_UP = f"{API_AUTH_PREFIX}/sign-up"
API_SIGN_OUT = f"{API_AUTH_PREFIX}/sign-out"
API_SIGN_IN_CODE = f"{API_AUTH_PREFIX}/sign-in/code"  # the second step: an authenticator code
API_PASSKEY_OPTIONS = f"{API_AUTH_PREFIX}/passkey/options"  # a challenge for navigator.credentials.get
API_PASSKEY_SIGN_IN = f"{API_AUTH_PREFIX}/passkey/sign-in"  # the signed answer: alone, or the second step
# Single sign-on (api/sso_forms.py): the sign-in button's link, and the redirect URI registered at
# the provider (<the console's address> + API_OIDC_CALLBACK)
API_OIDC_START = f"{API_AUTH_PREFIX}/oidc/start"
API_OIDC_CALLBACK = f"{API_AUTH_PREFIX}/oidc/callback"
API_SECRET_SCANNING_GITHUB = f"{API_PREFIX}/secret-scanning/github"  # leak reports (api/secret_scanning.py)
API_LEAK_POLICY = "/workspace/leak-policy"  # under API_PREFIX, a management route
API_KEY_POLICY = "/workspace/policy"  # under API_PREFIX: the workspace's key policy (management)

SESSION_COOKIE = "apikeys_session"
DEVICE_COOKIE = "apikeys_device"  # trusted-device cookie for sign-in throttling (services/throttle.py)
PENDING_COOKIE = "apikeys_pending"  # between the password and the code (services/two_factor.py)
OIDC_COOKIE = "apikeys_oidc"  # one single sign-on request in flight: sealed state, nonce, verifier

# A workspace's public id as it may stand in an address (today `ws_` + 16 base32 characters).
_WORKSPACE_SEGMENT = re.compile(r"[A-Za-z0-9_-]{1,32}")
_KEY_SEGMENT = re.compile(r"[A-Za-z0-9_-]{1,40}")


def in_workspace(workspace_id: Any, page: str = KEYS) -> Any:
    """`/w/<workspace_id><page>`; `workspace_id` may be a str or a Reflex string var (then a var)."""
    return WORKSPACE_PREFIX + "/" + workspace_id + page


def key_detail(workspace_id: Any, key_id: Any) -> Any:
    """One key's page in its workspace; either argument may be a Reflex string var."""
    return in_workspace(workspace_id, KEYS + "/") + key_id


def split_workspace_path(path: str) -> tuple[str, str]:
    """`/w/ws_x/keys/k` -> (`ws_x`, `/keys/k`). Anything else (an unprefixed page, a malformed id,
    a page that is not per-workspace) -> ("", path)."""
    parts = (path or "").split("/", 3)  # "", "w", id, rest
    if len(parts) < 4 or "/" + parts[1] != WORKSPACE_PREFIX or not _WORKSPACE_SEGMENT.fullmatch(parts[2]):
        return "", path
    page = "/" + parts[3]
    if not any(page == p or page.startswith(p + "/") for p in WORKSPACE_PAGES):
        return "", path
    return parts[2], page


def workspace_in_path(path: str) -> str:
    """The workspace public id an address names ("" for an address without one)."""
    return split_workspace_path(urlsplit(path or "").path)[0]


def legacy_key_id(path: str) -> str:
    """The key id of an old key link (`/keys/<key_id>`), else ""."""
    page = (path or "").rstrip("/")
    key_id = page.removeprefix(KEYS + "/") if page.startswith(KEYS + "/") else ""
    return key_id if _KEY_SEGMENT.fullmatch(key_id) else ""


def from_legacy(path: str, query: str, workspace_id: str) -> str:
    """Where an old link goes: the same page (and query) in `workspace_id`; the keys page when the
    address is not one of the old per-workspace ones."""
    page = (path or "").rstrip("/") or KEYS
    if not any(page == p or page.startswith(p + "/") for p in WORKSPACE_PAGES):
        page = KEYS
    target = in_workspace(workspace_id, page)
    return f"{target}?{query}" if query else target


def same_page_in(path: str, workspace_id: str) -> str:
    """The workspace switcher's destination: this page in the chosen workspace. A key page goes to
    the chosen workspace's keys (the key belongs to the one being left); a page that is not per
    workspace (Account, Admin) stays where it is."""
    current, page = split_workspace_path(urlsplit(path or "").path)
    if not current:
        clean = urlsplit(path or "").path
        return clean if clean and safe_next(clean) else in_workspace(workspace_id, KEYS)
    section = "/" + page.split("/", 2)[1]
    return in_workspace(workspace_id, section)


NEXT_MAX_LENGTH = 1000
_PAGE_PREFIXES = (KEYS, PROFILES, ACTIVITY, ACCOUNT, MEMBERS, ADMIN, INVITATION, TOKENS, WEBHOOKS)


def safe_next(path: str) -> str:
    """Where to go after signing in: one of the console's own pages as a relative path (with its
    query), else "". Never a scheme, host, `//`, backslash or dot segment, so never an open
    redirect. Per-workspace pages count with or without their `/w/<id>` prefix."""
    path = (path or "").strip()
    if (
        not path.startswith("/")
        or path.startswith("//")
        or len(path) > NEXT_MAX_LENGTH
        or any(ch == "\\" or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in path)
    ):
        return ""
    page = path.split("?", 1)[0].split("#", 1)[0]
    if any(segment in (".", "..") for segment in page.split("/")):
        return ""
    page = page.rstrip("/") or "/"
    if page.startswith(WORKSPACE_PREFIX + "/"):
        workspace_id, page = split_workspace_path(page)
        if not workspace_id:
            return ""
    if not any(page == prefix or page.startswith(prefix + "/") for prefix in _PAGE_PREFIXES):
        return ""
    return path


def sign_in_for(path: str, ended: bool = False) -> str:
    """The sign-in page, told where to return and whether a session ended elsewhere."""
    query = {"error": "session_ended"} if ended else {}
    if safe_next(path):
        query["next"] = safe_next(path)
    return f"{SIGN_IN}?{urlencode(query)}" if query else SIGN_IN


JOINED_PARAM = "joined"  # /w/<id>/keys?joined=<id>: where joining lands (a notice says so)


def joined_keys(public_id: str) -> str:
    return f"{in_workspace(public_id, KEYS)}?{urlencode({JOINED_PARAM: public_id})}"


def invitation_path(token: str) -> str:
    """The link an owner hands out (the token is shown once; only its HMAC is stored)."""
    return f"{INVITATION}?token={token}"
