"""Every route path in one place."""

from urllib.parse import urlencode

HOME = "/"
SIGN_IN = "/sign-in"
SIGN_UP = "/sign-up"
KEYS = "/keys"
KEY_DETAIL = "/keys/[key_id]"  # one key: usage chart, roll chain, rotation assistant, audit trail
PROFILES = "/profiles"
ACTIVITY = "/activity"
ACCOUNT = "/account"
TOKENS = "/tokens"  # management API tokens of the current workspace
MEMBERS = "/members"
ADMIN = "/admin"
INVITATION = "/invite"  # ?token=inv_...: signs the person in or up, then joins the workspace

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

SESSION_COOKIE = "apikeys_session"
DEVICE_COOKIE = "apikeys_device"  # trusted-device cookie for sign-in throttling (services/throttle.py)
PENDING_COOKIE = "apikeys_pending"  # between the password and the code (services/two_factor.py)


NEXT_MAX_LENGTH = 1000
_PAGE_PREFIXES = (KEYS, PROFILES, ACTIVITY, ACCOUNT, MEMBERS, ADMIN, INVITATION, TOKENS)


def safe_next(path: str) -> str:
    """Where to go after signing in: one of the console's own pages as a relative path (with its
    query), else "". Never a scheme, host, `//` or backslash, so never an open redirect."""
    path = (path or "").strip()
    if (
        not path.startswith("/")
        or path.startswith("//")
        or len(path) > NEXT_MAX_LENGTH
        or any(ch == "\\" or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in path)
    ):
        return ""
    page = path.split("?", 1)[0].split("#", 1)[0].rstrip("/") or "/"
    if not any(page == prefix or page.startswith(prefix + "/") for prefix in _PAGE_PREFIXES):
        return ""
    return path


def sign_in_for(path: str, ended: bool = False) -> str:
    """The sign-in page, told where to return and whether a session ended elsewhere."""
    query = {"error": "session_ended"} if ended else {}
    if safe_next(path):
        query["next"] = safe_next(path)
    return f"{SIGN_IN}?{urlencode(query)}" if query else SIGN_IN


def key_detail(key_id: str) -> str:
    return f"{KEYS}/{key_id}"


JOINED_PARAM = "joined"  # /keys?joined=<workspace public id>: where joining lands (a notice says so)


def joined_keys(public_id: str) -> str:
    return f"{KEYS}?{urlencode({JOINED_PARAM: public_id})}"


def invitation_path(token: str) -> str:
    """The link an owner hands out (the token is shown once; only its HMAC is stored)."""
    return f"{INVITATION}?token={token}"
