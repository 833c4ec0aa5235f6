"""The fault matrix: one module per fault, each ending with the accounting check."""
