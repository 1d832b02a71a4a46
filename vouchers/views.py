"""Web pages of vouchers."""
