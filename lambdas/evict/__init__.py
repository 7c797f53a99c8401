"""Evict the back doors the attacker left: users and roles it created, console passwords it set, trust
policies it rewrote, policies it attached; the owner's own changes are reported, never acted on.

Modules: `attribution` (the attacker-or-owner rule, pure), `plan` (what the attacker's calls left, pure),
`actions` (one eviction each, taking boto3 clients), `handler` (the Lambda entry point), `permissions`.
"""
