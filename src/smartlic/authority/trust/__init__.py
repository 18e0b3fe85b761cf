"""Product instances and trust codes."""
