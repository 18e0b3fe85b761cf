"""Custom policies per smart or virtual account, and the rule that picks the one in force."""
