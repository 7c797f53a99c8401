"""The attacker's reach: every credential and principal derived from the compromised one, each judged.

Pure: no AWS calls. `calls` reads CloudTrail records into Calls and their sources; `judge` decides whose
work a call is (attacker, owner or unknown), printing the rule and its inputs; `graph` follows what each
credential derived (sessions, keys, users, roles, passwords, trust) to a bounded depth. Investigate uses it
to know what to look up next; Evict to know what to contain.
"""
