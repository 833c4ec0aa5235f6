"""Versioned schema migrations of the ledger (alembic)."""
