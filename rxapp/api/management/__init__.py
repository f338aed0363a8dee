"""The management API: keys, Bias Profiles, usage and the audit trail over REST, for automation
(CI, Terraform, onboarding code), authenticated with a management token (`Authorization: Bearer
bpm_...`). Every route calls the same services as the console.

- `common`: the token dependency, problem responses, JSON/ETag answers, cursors, Idempotency-Key;
- `keys`: keys (list, create, get, update, delete, roll) and a key's usage;
- `programs`: identities and the permission catalogue (and the shapes of a key's programmable fields);
- `profiles`: Bias Profiles;
- `audit`: the audit trail;
- `webhooks`: webhook endpoints, their delivery log and Redeliver.
- `leak_policy`: the workspace's leak policy (what a leak report does to its keys);
- `key_policy`: the workspace's key policy (lifetimes, required profile, unused keys) and the keys
  that break it.

Problem details (RFC 9457), scopes and If-Match live in `rxapp.api.problems`.
"""

from __future__ import annotations

from fastapi import APIRouter

from rxapp.api.management import audit, key_policy, keys, leak_policy, profiles, programs, webhooks

router = APIRouter()
for _module in (
    keys,
    programs,
    profiles,
    audit,
    webhooks,
    leak_policy,
    key_policy,
):  # the schema lists paths in this order
    router.include_router(_module.router)

__all__ = ["router"]
