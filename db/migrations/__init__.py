"""Alembic migration environment of DynVFI (see db/migrate.py); a package so wheels ship it."""
