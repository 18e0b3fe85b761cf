"""Smart accounts, virtual accounts, purchases, ID tokens, API tokens and the audit log."""
