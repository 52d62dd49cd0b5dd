"""One module per ``fleetsim`` subcommand: ``register(subparsers)`` and a handler."""

__all__: list[str] = []
