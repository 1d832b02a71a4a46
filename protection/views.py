"""Web pages of protection."""
