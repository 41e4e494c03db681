"""The ``fastssim`` command: score, report, map, presets, demo.

``parser`` holds the grammar, ``score`` the scoring run, ``commands`` the others. Every
mistake a user can make on the command line ends with one message naming the option to
change, the sub-command's usage, and exit status 2, before anything is written.
"""

import logging
import sys
import warnings

from .codes import EXIT_ERRORS, EXIT_OK, EXIT_OUTPUT, EXIT_SIGINT, EXIT_SIGTERM, EXIT_USAGE
from .parser import build

__all__ = ["main", "EXIT_OK", "EXIT_ERRORS", "EXIT_USAGE", "EXIT_OUTPUT", "EXIT_SIGINT", "EXIT_SIGTERM"]


def main(argv=None):
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)  # its warnings about damaged files become rows
    warnings.filterwarnings("ignore", message="Image size .* could be decompression bomb")  # --max-pixels rules
    parser, subs = build()
    args = parser.parse_args(argv)
    if args.command == "score":
        from .score import run
    else:
        from .commands import COMMANDS

        run = COMMANDS[args.command]
    return run(args, subs[args.command])


if __name__ == "__main__":
    sys.exit(main())
