"""Stored uploads of the air gap: usage and trust request files, their status and answer."""
