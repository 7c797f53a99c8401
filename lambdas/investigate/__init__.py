"""What the compromised credential did: CloudTrail look-up in every enabled region, a summary worth
reading, and a sweep for the back doors it left (new users, roles, access keys).

Modules: `lookup` (paged, paced LookupEvents per region and the fan-out), `summary` (events -> summary,
mutating/persistence classification), `backdoors` (IAM key sweep and deactivation), `handler` (the
Lambda entry point), `permissions` (the IAM actions the code calls).
"""
