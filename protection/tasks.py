"""Thin Celery tasks of protection: take ids, re-fetch, call a service."""
