"""Converters from public datasets of real human feedback to the event contract."""
