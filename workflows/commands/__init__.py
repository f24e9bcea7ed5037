"""One module per subcommand; each exposes ``add_parser(subparsers)`` and a ``run(args)`` returning an exit code."""
