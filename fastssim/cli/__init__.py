"""The ``fastssim`` command: score, report, map, presets, demo.

``parser`` holds the grammar, ``score`` the scoring run, ``demo`` the demos, ``commands`` the others. Every
mistake a user can make on the command line ends with one line naming the option to change,
then where the sub-command's help is (``see 'fastssim score --help'``), and exit status 2,
before anything is written.
"""

import logging
import signal
import sys
import warnings

from .codes import EXIT_ERRORS, EXIT_OK, EXIT_OUTPUT, EXIT_SIGINT, EXIT_SIGTERM, EXIT_USAGE
from .parser import build

__all__ = ["main", "EXIT_OK", "EXIT_ERRORS", "EXIT_USAGE", "EXIT_OUTPUT", "EXIT_SIGINT", "EXIT_SIGTERM"]


def main(argv=None):
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)  # its warnings about damaged files become rows
    warnings.filterwarnings("ignore", message="Image size .* could be decompression bomb")  # --max-pixels rules
    from .signals import Interrupted, stop_at_once

    previous = stop_at_once()  # a signal while the command starts up ends it at once
    try:
        return _main(argv)
    except (KeyboardInterrupt, Interrupted) as e:  # before anything was scored: nothing to commit
        name = e.name if isinstance(e, Interrupted) else "SIGINT"
        print(f"stopped by {name} before anything was scored; nothing written", file=sys.stderr)
        return EXIT_SIGINT if name == "SIGINT" else EXIT_SIGTERM
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _main(argv):
    parser, subs = build()
    args, extra = parser.parse_known_args(argv)
    if extra:  # said by the sub-command, whose help lists its options
        subs[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "score":
        from .score import run
    elif args.command == "demo":
        from .demo import demo as run
    else:
        from .commands import COMMANDS

        run = COMMANDS[args.command]
    return run(args, subs[args.command])


if __name__ == "__main__":
    sys.exit(main())
