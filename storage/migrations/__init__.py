"""Alembic migrations of Yishi's schema; run them with :mod:`storage.migrate`."""
