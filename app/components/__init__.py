"""Reusable layout factories and their UI-only callbacks. Components never query the store."""
