"""The eviction's switches, one row each: what the eviction reads (evict.handler), what the configuration takes
(infra/config.py: the cdk.json key, which is also the dryRunActions entry) and the environment the stack sets.

Pure data: infra imports it without the eviction's code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EvictionSwitch:
    items: str  # the reach items it acts on (evict.plan's name for them)
    context: str  # the cdk.json key and its dryRunActions entry
    env: str  # on (the default) or off: each item is then reported with its command
    dry_run_env: str
    attribute: str  # infra.config.ResponderConfig's


SWITCHES = (
    EvictionSwitch("users", "evictCreatedUsers", "EVICT_CREATED_USERS", "DRY_RUN_EVICT_CREATED_USERS",
                   "evict_created_users"),
    EvictionSwitch("login_profiles", "removeLoginProfiles", "REMOVE_LOGIN_PROFILES", "DRY_RUN_REMOVE_LOGIN_PROFILES",
                   "remove_login_profiles"),
    EvictionSwitch("roles", "quarantineCreatedRoles", "QUARANTINE_CREATED_ROLES", "DRY_RUN_QUARANTINE_CREATED_ROLES",
                   "quarantine_created_roles"),
    EvictionSwitch("trust", "quarantineRewrittenTrust", "QUARANTINE_REWRITTEN_TRUST",
                   "DRY_RUN_QUARANTINE_REWRITTEN_TRUST", "quarantine_rewritten_trust"),
    # The investigation's older switch, read by the eviction now.
    EvictionSwitch("keys", "deactivateBackdoorKeys", "DEACTIVATE_BACKDOOR_KEYS", "DRY_RUN_BACKDOOR_KEYS",
                   "deactivate_backdoor_keys"),
    EvictionSwitch("sessions", "revokeMintedSessions", "REVOKE_MINTED_SESSIONS", "DRY_RUN_REVOKE_MINTED_SESSIONS",
                   "revoke_minted_sessions"),
)  # fmt: skip
