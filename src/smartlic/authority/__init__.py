"""The authority: the CSSM role (accounts, tokens, trust codes, policies, usage, SLACs).

Layers: ``app``/``cli`` (HTTP and commands) → services (one package per domain) → repositories
(every call scoped by account) → SQLAlchemy models. Imports only ``smartlic.core``.
"""
