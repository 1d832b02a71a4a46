"""Every write of protection, one keyword-only function per use case, each transactional."""
