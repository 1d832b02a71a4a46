"""Every write of the accounts app: one keyword-only function per use case."""
