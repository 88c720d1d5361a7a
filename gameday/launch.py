"""The `gameday` command's process: a run the warm start serves, or the command line here.

Only the standard library is imported before a warm-start server is asked to play the run
(`gameday.warm_start`); anything else, or a run no server takes, is the command line's
(`gameday.cli`), in this process.
"""

from __future__ import annotations

import sys


def entry() -> None:
    from gameday import warm_start

    args = sys.argv[1:]
    where = warm_start.place() if warm_start.eligible(args) else None
    try:
        status = warm_start.play(args, where)
    except KeyboardInterrupt:  # Ctrl-C before the run had started: as the command line says it
        print("aborted", file=sys.stderr)
        warm_start.leave_as(130)
    if status is not None:
        warm_start.leave_as(status)
    from gameday import cli

    def after(status: object) -> None:
        # a run played here, to its end: the next one may find a server warm for it
        if where is not None and status in (None, 0, 1) and warm_start.automatic():
            warm_start.spawn(where)

    cli.entry(after)
