"""Every write of vouchers, one keyword-only function per use case, each transactional."""
