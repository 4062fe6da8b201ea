"""`tuner serve`: the cockpit in a browser (textual-serve), behind a per-start secret and an Origin check.

Whoever reaches the websocket types into the cockpit, and the cockpit launches workers that run a recipe's code
as you (`trust_remote_code`, local model folders). Binding 127.0.0.1 keeps other machines out, not the other
users of this one, nor a web page in your own browser (a cross-site websocket). So, as Jupyter does:

- a random token per start, printed once in the URL (`/?token=...`) and never written to disk;
- the first load with it sets an HttpOnly, SameSite=Strict cookie and redirects to the URL without it, so the
  token leaves the address bar and the history;
- every request (page, static files, downloads, the websocket) needs that cookie or the token, else 403,
  answered before any websocket upgrade;
- the websocket and any state-changing request need an Origin whose host:port is the request's Host. Comparing
  with Host, not with the bound address, is what keeps `ssh -L 9000:127.0.0.1:8000` working: the browser then
  sends Host `localhost:9000` and Origin `http://localhost:9000`.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import re
import secrets
import shlex
import sys
from typing import Any
from urllib.parse import urlencode, urlsplit

from rich.text import Text

from tuner_tui.commands.common import err, out

LOOPBACK = ("127.0.0.1", "localhost", "::1")
TOKEN_ENV = "TUNER_SERVE_TOKEN"
MIN_TOKEN_CHARS = 16
# What a URL query and a cookie carry unquoted; anything else in TUNER_SERVE_TOKEN is refused, not mangled.
TOKEN_CHARS = re.compile(r"[A-Za-z0-9._~-]+")
# A Host header is reflected into the page (the websocket URL): allow only what a host[:port] is made of.
HOST_HEADER = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
TOKEN_IN_QUERY = re.compile(r"token=[^&\s\"]*")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
FORBIDDEN_HINT = ("open the URL that `tuner serve` printed (the one with ?token=...); "
                  "a restart of `tuner serve` makes a new one")


class ServeTokenError(ValueError):
    """TUNER_SERVE_TOKEN is set but unusable; the message says what to do."""


def start_token(environ: dict[str, str] | os._Environ[str] = os.environ) -> str:
    """The secret for this start: TUNER_SERVE_TOKEN (for scripts) or a fresh one.

    Taken out of the environment so that the cockpit processes textual-serve spawns, and the workers they
    launch, never inherit it.
    """
    given = environ.pop(TOKEN_ENV, None)
    if given is None:
        return secrets.token_urlsafe(32)
    if len(given) < MIN_TOKEN_CHARS or not TOKEN_CHARS.fullmatch(given):
        raise ServeTokenError(
            f"{TOKEN_ENV} must be at least {MIN_TOKEN_CHARS} characters of A-Z a-z 0-9 . _ ~ - "
            f"(it has {len(given)}); make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    return given


def same_secret(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def origin_matches_host(origin: str | None, host: str | None) -> bool:
    """True when the page that opened this request was served from the host:port the request is sent to."""
    if not origin or not host or origin == "null":
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class HideToken(logging.Filter):
    """The access log echoes request lines; the token is printed once at start, not once per load."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message:
            record.msg, record.args = TOKEN_IN_QUERY.sub("token=(hidden)", message), ()
        return True


def make_guard(token: str, cookie_name: str) -> Any:
    """The aiohttp middleware that refuses, before any handler runs, whatever lacks the secret or the Origin."""
    from aiohttp import web

    @web.middleware
    async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
        if not HOST_HEADER.fullmatch(request.headers.get("Host", "")):
            raise web.HTTPBadRequest(text="bad Host header")
        given = request.query.get("token")
        if given is None:
            given = request.cookies.get(cookie_name)
        if not same_secret(given, token):
            raise web.HTTPForbidden(text=f"tuner serve: {FORBIDDEN_HINT}\n")
        origin = request.headers.get("Origin")
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        needs_origin = upgrade or request.method not in SAFE_METHODS
        if (needs_origin or origin is not None) and not origin_matches_host(origin, request.host):
            raise web.HTTPForbidden(text=f"tuner serve: Origin {origin!r} is not this server ({request.host})\n")
        if "token" in request.query and request.path == "/" and request.method == "GET" and not upgrade:
            return first_load(request, token, cookie_name)
        return await handler(request)

    return guard


def first_load(request: Any, token: str, cookie_name: str) -> Any:
    """Keep the token in a cookie and send the browser on to the same URL without it."""
    from aiohttp import web

    rest = [(k, v) for k, v in request.query.items() if k != "token"]
    response = web.HTTPSeeOther(location="/" + (f"?{urlencode(rest)}" if rest else ""))
    response.set_cookie(cookie_name, token, httponly=True, samesite="Strict", path="/")
    return response


def guarded_server(command: str, host: str, port: int, token: str) -> Any:
    """textual-serve's Server with the guard, and a page whose URLs follow the address the browser used."""
    import aiohttp_jinja2
    from aiohttp import web
    from textual_serve.server import Server, to_int

    class GuardedServer(Server):
        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            # A cookie is shared by every port of a host: one name per server, so two serves don't evict each other.
            app.middlewares.append(make_guard(token, f"tuner-serve-{port}"))
            return app

        def initialize_logging(self) -> None:
            super().initialize_logging()
            logging.getLogger("aiohttp.access").addFilter(HideToken())

        async def on_startup(self, app: web.Application) -> None:
            """cmd_serve prints the one URL that works (textual-serve's own banner would lack the token)."""

        @aiohttp_jinja2.template("app_index.html")
        async def handle_index(self, request: web.Request) -> dict[str, Any]:
            # textual-serve writes its bound address into the page (static files and the websocket URL);
            # behind `ssh -L 9000:...:8000` the browser must come back to the address it used instead.
            base = request.host
            ws = "wss" if request.scheme == "https" else "ws"
            return {"font_size": to_int(request.query.get("fontsize", "16"), 16),
                    "app_websocket_url": f"{ws}://{base}{request.app.router['websocket'].url_for()}",
                    "config": {"static": {"url": f"{request.scheme}://{base}/static/"}},
                    "application": {"name": self.title}}

    return GuardedServer(command, host=host, port=port, title="tuner")


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        token = start_token()
    except ServeTokenError as error:
        err.print(Text.assemble(("error:", "bold red"), f" {error}"))
        return 2
    if args.host not in LOOPBACK:
        err.print(Text.assemble(("warning:", "bold yellow"), f" serving on {args.host}: anyone who can reach port "
                                f"{args.port} and learns the token can launch, stop and delete runs on this "
                                "machine, and the token travels unencrypted. Prefer the default 127.0.0.1 and an "
                                f"SSH tunnel (ssh -L {args.port}:127.0.0.1:{args.port} HOST)."))
    command = " ".join(shlex.quote(p) for p in (sys.executable, "-m", "tuner_tui", "cockpit"))
    server = guarded_server(command, args.host, args.port, token)
    out.print(f"serving the cockpit on http://{url_host(args.host)}:{args.port}/?token={token}", markup=False)
    out.print("(open that URL once: the browser keeps the secret in a cookie. Ctrl-C stops serving; runs go on)")
    sys.stdout.flush()                                # scripts and tests read the URL from a pipe
    try:
        server.serve()
    except OSError as error:                          # the port is taken, or the address is not this machine's
        err.print(Text.assemble(("error:", "bold red"), f" cannot serve on {args.host}:{args.port}: "
                                f"{error.strerror or error}; choose another --port (or --host)"))
        return 1
    return 0
