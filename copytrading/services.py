"""Every write of copytrading, one keyword-only function per use case, each transactional."""
