"""The CSSM-compatible REST surface (spec/clients.md §4.4): OAuth2 client credentials,
``v2/accounts/search``, ``v2/devices/reportusage``, ``v2/devices/authrequest``,
``v2/accounts/poll``."""
