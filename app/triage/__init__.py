"""Failure triage: failures grouped into issues by their fingerprint (store/fingerprint.py)."""
