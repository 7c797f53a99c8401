"""Revoke the active sessions of an instance role whose credentials were stolen."""
