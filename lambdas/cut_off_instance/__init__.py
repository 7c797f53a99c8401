"""Cut a compromised instance off from its callers and from new role credentials."""
