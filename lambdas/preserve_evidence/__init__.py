"""Preserve the evidence on a compromised instance: protection, out of Auto Scaling, a no-reboot AMI."""
