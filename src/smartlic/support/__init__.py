"""The support floor: plumbing every role may use (listening sockets, the URLs a server
announces, ...), above ``core`` and below the roles. It imports ``core`` and nothing else of
ours, so the roles can share it without importing each other (tests/unit/test_layout.py)."""
