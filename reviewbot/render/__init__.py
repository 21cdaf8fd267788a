"""Output formats over review results (no analysis here)."""
