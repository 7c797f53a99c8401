"""Every other long-term credential of a compromised IAM user, set Inactive and read back."""
