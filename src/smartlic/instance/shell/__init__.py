"""The device shell: an IOS-XE-style command line over the product-instance agent.

Layers (only the front ends do I/O):

* ``tree`` — the command tree and IOS parsing: unique-prefix abbreviation, ``?`` help,
  ``% Invalid input detected at '^' marker.``, ``% Incomplete command.``, ``% Ambiguous
  command:``, output filters ``| include|exclude|begin|section|count``.
* ``render`` — every ``show license ...`` layout, from the agent's state (Genie's IOS-XE parsers
  and ntc-templates read them; tests/shell checks both).
* ``commands`` — the commands of each mode (``user``, ``exec``, ``config``, ``config-line``),
  wired to the agent's public API.
* ``session`` — :class:`~smartlic.instance.shell.session.Device` (one per agent: hostname,
  enable secret, ``logging console``, shell-held configuration saved by ``write memory`` to
  ``startup-config.json`` in the state folder, console message fan-out) and
  :class:`~smartlic.instance.shell.session.Session` (one per terminal: mode, prompt,
  ``execute(line) -> text``).
* Front ends: ``repl`` (``smartlic instance shell --state DIR``: prompt_toolkit with completion,
  history and ``?`` on a tty; a console transcript of the lines read when stdin is not a tty) and
  ``ssh`` (asyncssh, started by ``smartlic instance run --ssh-port N``: password auth with the
  REST API's credentials, PTY, tty-like echo, ``\\r``/``\\n``/``\\r\\n`` line endings, many
  sessions, host key ``ssh_host_ed25519_key`` in the state folder).

Device file systems: ``flash:``, ``bootflash:``, ``harddisk:``, ``usbflash0:``, ``nvram:`` and
``crashinfo:`` map to folders of the same name inside the state folder; other paths are refused,
so a shell user cannot read or write the host's files.

Licensing configuration (``license smart ...``) goes straight to the agent, which keeps it at
once; ``write memory`` saves what only the shell holds (hostname, ``license boot level``,
``license feature``, ``logging console``, line settings, other accepted lines).
"""
