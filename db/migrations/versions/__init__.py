"""Alembic revisions (0001_initial first); a package so wheels ship them."""
