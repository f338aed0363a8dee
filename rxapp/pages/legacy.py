"""Old, workspace-less addresses (`/keys`, `/keys/<key_id>`, `/profiles`, `/activity`, `/members`,
`/tokens`, `/webhooks`): bookmarks and links from before the workspace was in the address. Each forwards, in
place, to the same page in the workspace the person is in; an old key link goes to the key's own
workspace when the person is a member of it (so a link shared then still opens the key), and
an old joining landing (`/keys?joined=<id>`) to that workspace for a member. Signed
out, the sign-in page comes first and returns here."""

from __future__ import annotations

import reflex as rx

from rxapp import routes
from rxapp.services import links
from rxapp.session_guard import Caller
from rxapp.state import AuthState, requires_user


class LegacyLinkState(AuthState):
    @rx.event
    @requires_user
    async def forward(self, user: Caller):
        url = self.router.url
        path, query = (url.path, url.query) if url is not None else (routes.KEYS, "")
        workspace = user.access.workspace_public_id
        key_id = routes.legacy_key_id(path)
        joined = url.query_parameters.get(routes.JOINED_PARAM, "") if url is not None else ""
        if key_id:
            home = await self.in_session(links.workspace_of_key, user.id, key_id)
            workspace = home or workspace
        elif isinstance(joined, str) and joined:  # an old joining landing: the team's workspace
            workspace = await self.in_session(links.member_workspace, user.id, joined) or workspace
        return rx.redirect(routes.from_legacy(path, query, workspace), replace=True)


def legacy_page() -> rx.Component:
    return rx.center(rx.spinner(size="3"), height="100vh", id="forwarding")


ON_LOAD = LegacyLinkState.forward
