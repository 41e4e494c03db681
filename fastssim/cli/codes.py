"""Exit statuses of the ``fastssim`` command."""

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_OUTPUT = 0, 1, 2, 3
#: Interrupted runs exit with 128 + the signal's number, as shells report them.
EXIT_SIGINT, EXIT_SIGTERM = 130, 143
