"""Thin Celery tasks of vouchers: take ids, re-fetch, call a service."""
