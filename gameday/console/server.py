"""Serving the console on 127.0.0.1, and telling the team where it is.

The console's token is the run's: made once, kept in the team's room (`CONSOLE.txt`, beside
the handout, which gets a section with the address and the token), and found there again
when the console is started anew for the same run — on another port, if need be, in which
case both files are brought up to date. The token is the team's; it opens no door of the
facilitator's.
"""

from __future__ import annotations

import re
import secrets
import threading
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, make_server

from gameday.console.app import MARKER, create_app
from gameday.console.aws import TeamAccount, TeamProfile
from gameday.rundir import RunDir, write_private
from gameday.world.decoys import account_of

HOST = "127.0.0.1"
SHUTDOWN_POLL_S = 0.05  # how soon the server's loop sees `stop`: a run's end waits for it
_TOKEN_LINE = re.compile(r"^token: (\S+)$", re.MULTILINE)
_SECTION = re.compile(r"\n<!-- console -->.*<!-- /console -->\n", re.DOTALL)


class ConsoleServer:
    """The console of one run, served in a thread until `stop`."""

    def __init__(self, account: TeamAccount, mail: Path, token: str, port: int = 0) -> None:
        self.token = token
        self.account_id = account_of(account.profile.access_key_id)
        app = create_app(account, mail, token, self.account_id)
        self._server: BaseWSGIServer = make_server(HOST, port, app, threaded=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(SHUTDOWN_POLL_S,),
            name="gameday-console",
            daemon=True,
        )

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self._server.server_port}"

    @property
    def link(self) -> str:
        """The address that signs in at once (the token rides in it)."""
        return f"{self.origin}/login?token={self.token}"

    def start(self) -> ConsoleServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


def serve_console(run: RunDir, port: int = 0) -> ConsoleServer:
    """Start the console of `run` with the team's profile, and tell the team's room of it."""
    token = console_token(run)
    server = ConsoleServer(TeamAccount(TeamProfile.read(run.aws)), run.mail, token, port)
    server.start()
    announce(run, server)
    return server


def console_token(run: RunDir) -> str:
    """The run's console token: the one `CONSOLE.txt` keeps, or a new one."""
    try:
        found = _TOKEN_LINE.search(run.console_link.read_text(encoding="utf-8"))
    except FileNotFoundError:
        found = None
    return found.group(1) if found else secrets.token_urlsafe(18)


def announce(run: RunDir, server: ConsoleServer) -> None:
    """Write `CONSOLE.txt` and the handout's console section for `server`."""
    write_private(
        run.console_link,
        f"{MARKER}\n"
        "The mock AWS account's web console (not a real AWS console):\n"
        f"address: {server.origin}/\n"
        f"token: {server.token}\n"
        f"sign in at once: {server.link}\n",
    )
    if not run.handout.exists():
        return
    section = (
        "\n<!-- console -->\n"
        "## The AWS console (SIMULATION)\n\n"
        "If you work in the browser: the mock account's web console is at "
        f"<{server.origin}/>, on this machine only. Sign in with the token `{server.token}` "
        f"(or open <{server.link}>). Every button there is an AWS API call made with your "
        "team's access key, exactly like the AWS CLI.\n"
        "<!-- /console -->\n"
    )
    text = run.handout.read_text(encoding="utf-8")
    text = _SECTION.sub("", text).rstrip("\n") + "\n" + section
    run.handout.write_text(text, encoding="utf-8")
