"""Every route path in one place."""

HOME = "/"
SIGN_IN = "/sign-in"
SIGN_UP = "/sign-up"
KEYS = "/keys"
KEY_DETAIL = "/keys/[key_id]"  # one key: usage chart, roll chain, rotation assistant, audit trail
PROFILES = "/profiles"
ACTIVITY = "/activity"
ACCOUNT = "/account"

API_PREFIX = "/api/v1"
API_VERIFY = f"{API_PREFIX}/verify"
API_HEALTH = f"{API_PREFIX}/health"
API_NOOP = f"{API_PREFIX}/noop"
API_AUTHORIZE = f"{API_PREFIX}/authorize"
API_AUTH_PREFIX = f"{API_PREFIX}/auth"
API_SIGN_IN = f"{API_AUTH_PREFIX}/sign-in"
API_SIGN_UP = f"{API_AUTH_PREFIX}/sign-up"
API_SIGN_OUT = f"{API_AUTH_PREFIX}/sign-out"

SESSION_COOKIE = "apikeys_session"
DEVICE_COOKIE = "apikeys_device"  # trusted-device cookie for sign-in throttling (services/throttle.py)


def key_detail(key_id: str) -> str:
    return f"{KEYS}/{key_id}"
