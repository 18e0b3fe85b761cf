"""Alembic migrations of the authority schema, shipped inside the package."""
