"""Smart License Authorization Codes (SLAC): issue within purchased counts, return."""
