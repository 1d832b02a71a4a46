"""Web pages of copytrading."""
