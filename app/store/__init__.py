"""Persistent history (SQLAlchemy) and the Inspector snapshot cache (diskcache)."""
