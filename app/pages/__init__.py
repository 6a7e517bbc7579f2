"""Dash pages, one module each. Pages read the store and cache; they never talk to the broker."""
