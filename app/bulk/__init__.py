"""Retry and bulk revoke: what can be sent again exactly, dry runs, rate-bounded jobs."""
