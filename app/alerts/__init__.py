"""Alerts: rules over the store's figures, their states and history, and notifications."""
