"""The Reflex app: pages, the HTTP API and the background jobs, wired together."""

import sys

import reflex as rx

from rxapp import jobs, metrics, routes
from rxapp.api import api, serve_benchmark_noop
from rxapp.bench_switches import BenchSwitches
from rxapp.hotpath import fast_path_middleware
from rxapp.hotpath.app import FastPathApp
from rxapp.logs import configure_logging, request_context_middleware
from rxapp.pages import keys, profiles, tokens, webhooks
from rxapp.pages.account import ON_LOAD as ACCOUNT_ON_LOAD
from rxapp.pages.account import account_page
from rxapp.pages.activity import ActivityState, activity_page
from rxapp.pages.admin import AdminState, admin_page
from rxapp.pages.auth import AuthPageState, sign_in_page, sign_up_page
from rxapp.pages.invitation import InvitationState, invitation_page
from rxapp.pages.keys import detail as key_detail
from rxapp.pages.legacy import ON_LOAD as LEGACY_ON_LOAD
from rxapp.pages.legacy import legacy_page
from rxapp.pages.members import MembersState, members_page
from rxapp.pages.not_found import not_found_page
from rxapp.pages.notices import ON_LOAD as NOTICES_ON_LOAD
from rxapp.pages.notices import notices_page
from rxapp.pages.permission_catalogue import PermissionCatalogueState
from rxapp.pages.role_catalogue import RoleCatalogueState
from rxapp.pages.workspace_key_policy import KeyPolicyState
from rxapp.pages.workspace_settings import WorkspaceSettingsState
from rxapp.security import security_middleware, socket_origin_check
from rxapp.services.instance import PepperMismatchError
from rxapp.services.usage import buffer as usage_buffer
from rxapp.session_guard import SessionGuard
from rxapp.startup import ensure_same_pepper, tune_garbage_collector
from rxapp.state import AuthState

try:
    ensure_same_pepper()
except PepperMismatchError as error:  # one clear line, no traceback
    print(f"error: {error.message}", file=sys.stderr)
    raise SystemExit(2) from None


def index() -> rx.Component:
    return rx.center(rx.spinner(size="3"), height="100vh")


configure_logging()
bench = BenchSwitches()  # scripts/bench only; never set for a real console
if bench.noop:
    serve_benchmark_noop(api)
if bench.usage_off:
    usage_buffer.switch_off_for_benchmark()
api.add_api_route(metrics.METRICS_PATH, metrics.metrics_endpoint, methods=["GET"], include_in_schema=False)
# Verify/authorize are answered by the fast path ahead of Reflex's own stack (FastPathApp), and,
# for requests that go the normal way (e.g. with an Origin header), before FastAPI's routing,
# inside the security middleware (headers, body cap) like every other route.
app = FastPathApp(
    stylesheets=["/responsive.css"],
    head_components=[
        rx.script(src="/focus_return.js"),
        rx.script(src="/keep_email.js"),
        rx.script(src="/slider_names.js"),
        rx.script(src="/passkeys.js"),
    ],
    api_transformer=[api, fast_path_middleware, security_middleware, request_context_middleware],
    security_middleware=security_middleware,
    # plain toasts with a coloured icon: sonner's rich colours (green text on pale green) fail WCAG AA
    toaster=rx.toast.provider(rich_colors=False),
)
app.add_middleware(SessionGuard(AuthState))  # before any handler or hydration sees a tab's state
app.add_page(index, route=routes.HOME, title="Key Console", on_load=AuthState.redirect_home)
app.add_page(
    sign_in_page, route=routes.SIGN_IN, title="Sign in · Key Console", on_load=AuthPageState.load_sign_in
)
app.add_page(
    sign_up_page, route=routes.SIGN_UP, title="Sign up · Key Console", on_load=AuthPageState.load_sign_up
)
app.add_page(keys.keys_page, route=routes.W_KEYS, title="API Keys · Key Console", on_load=keys.ON_LOAD)
app.add_page(
    key_detail.key_detail_page,
    route=routes.W_KEY_DETAIL,
    title="API key · Key Console",
    on_load=key_detail.ON_LOAD,
)
app.add_page(
    profiles.profiles_page,
    route=routes.W_PROFILES,
    title="Bias Profiles · Key Console",
    on_load=profiles.ON_LOAD,
)
app.add_page(
    activity_page, route=routes.W_ACTIVITY, title="Activity · Key Console", on_load=ActivityState.load
)
app.add_page(
    members_page,
    route=routes.W_MEMBERS,
    title="Members · Key Console",
    on_load=[
        MembersState.load,
        WorkspaceSettingsState.load,
        KeyPolicyState.load,
        PermissionCatalogueState.load,
        RoleCatalogueState.load,
    ],
)
app.add_page(admin_page, route=routes.ADMIN, title="Admin · Key Console", on_load=AdminState.load)
app.add_page(
    invitation_page, route=routes.INVITATION, title="Invitation · Key Console", on_load=InvitationState.load
)
app.add_page(not_found_page, route="404", title="Page not found · Key Console")
app.add_page(
    tokens.tokens_page, route=routes.W_TOKENS, title="Management tokens · Key Console", on_load=tokens.ON_LOAD
)
app.add_page(
    webhooks.webhooks_page, route=routes.W_WEBHOOKS, title="Webhooks · Key Console", on_load=webhooks.ON_LOAD
)
# The old addresses without the workspace forward to the same page in one (rxapp/pages/legacy.py).
for legacy_route in routes.LEGACY_ROUTES:
    app.add_page(legacy_page, route=legacy_route, title="Key Console", on_load=LEGACY_ON_LOAD)
app.add_page(account_page, route=routes.ACCOUNT, title="Account · Key Console", on_load=ACCOUNT_ON_LOAD)
app.add_page(notices_page, route=routes.NOTICES, title="Notices · Key Console", on_load=NOTICES_ON_LOAD)
app.register_lifespan_task(jobs.expiry_loop)
app.register_lifespan_task(jobs.last_used_flush_loop)
app.register_lifespan_task(jobs.webhook_loop)
app.register_lifespan_task(jobs.email_loop)

# Socket.IO checks the Origin too; give it the middleware's rule (own origin or the allowlist)
# instead of the allowlist alone, so the console works on any port or host name it is served on.
if app.sio is not None:
    app.sio.eio.cors_allowed_origins = socket_origin_check

tune_garbage_collector()  # last: what the import made is frozen before Granian forks the workers
