"""Thin Celery tasks of copytrading: take ids, re-fetch, call a service."""
