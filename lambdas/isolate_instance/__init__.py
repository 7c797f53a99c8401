"""Isolate a compromised instance: every network interface gets a security group with no rules."""
