"""Every write of the futures venue and the copy engine, one keyword-only function per use case."""
