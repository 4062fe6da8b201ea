"""`tuner serve`: the cockpit in a browser through textual-serve, on loopback unless told otherwise, behind a
per-start secret (token in the printed URL, then an HttpOnly SameSite=Strict cookie) and an Origin check on the
websocket (issue 12, item 1). Real servers on 127.0.0.1, real HTTP, a real websocket client, a real second OS
user."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import aiohttp
import pytest

from tests.conftest import REPO
from tuner_tui.commands.serve import ServeTokenError, start_token

pytestmark = pytest.mark.timeout(120)

TOKEN = "tok-for-tests_0123456789abcdefXYZ"          # what a script would put in TUNER_SERVE_TOKEN
COOKIE = "tuner-serve-{port}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(home, *args: str, token: str | None = TOKEN) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "TUNER_HOME": str(home.root)}
    env.pop("TUNER_SERVE_TOKEN", None)
    if token is not None:
        env["TUNER_SERVE_TOKEN"] = token
    proc = subprocess.Popen([sys.executable, "-m", "tuner_tui", "serve", "--port", str(port), *args], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, port


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    proc.terminate()
    return proc.communicate(timeout=20)


def status_of(port: int, path: str = "/", headers: dict | None = None, deadline_s: float = 30) -> tuple[int, dict, str]:
    """(status, headers, body) of one GET, without following redirects; waits for the server to listen."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            with opener.open(request, timeout=5) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as refused:
            return refused.code, dict(refused.headers), refused.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def with_cookie(port: int, token: str = TOKEN) -> dict:
    return {"Cookie": f"{COOKIE.format(port=port)}={token}"}


async def ws_status(port: int, headers: dict, origin: str | None) -> tuple[int, bytes]:
    """The websocket handshake's status, and the cockpit's first bytes when it was upgraded."""
    async with aiohttp.ClientSession() as session:
        try:
            ws = await session.ws_connect(f"ws://127.0.0.1:{port}/ws?width=80&height=24", headers=headers,
                                          origin=origin, timeout=aiohttp.ClientWSTimeout(ws_close=5))
        except aiohttp.WSServerHandshakeError as refused:
            return refused.status, b""
        async with ws:
            first = b""
            deadline = time.monotonic() + 60                # the cockpit process starts behind the socket
            while not first and time.monotonic() < deadline:
                message = await ws.receive(timeout=60)
                if message.type == aiohttp.WSMsgType.BINARY:
                    first = message.data
                elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    break
            return 101, first


def test_serve_prints_a_token_url_that_opens_the_cockpit_page(home):
    # Behaviour changed on purpose (issue 12): the bare URL no longer opens the page, the printed one does.
    proc, port = serve(home, token=None)
    try:
        assert status_of(port)[0] == 403
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", line)
        assert url, line
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with browser.open(url.group(0), timeout=10) as response:
            page = response.read().decode()
            assert response.status == 200 and "token=" not in response.url
        assert "tuner" in page and "textual" in page.lower()
        assert f'data-session-websocket-url="ws://127.0.0.1:{port}/ws"' in page
        with browser.open(f"http://127.0.0.1:{port}/static/js/textual.js", timeout=10) as response:
            assert response.status == 200                # the page's script loads with the cookie alone
    finally:
        out, err = stop(proc)
    assert "serving the cockpit on http://127.0.0.1" in line
    assert "warning" not in err.lower()
    token = url.group(0).split("token=")[1]
    assert len(token) >= 40 and (line + out + err).count(token) == 1      # printed once, not in the access log


def test_no_token_or_a_wrong_one_is_refused_everywhere(home):
    proc, port = serve(home)
    try:
        for path in ("/", "/?token=wrong-" + TOKEN, "/static/js/textual.js", "/download/x"):
            code, _, body = status_of(port, path)
            assert code == 403, path
            assert "?token=" in body                     # says what to open instead
        assert status_of(port, headers=with_cookie(port, "wrong-" + TOKEN))[0] == 403
        assert asyncio.run(ws_status(port, {}, f"http://127.0.0.1:{port}"))[0] == 403
    finally:
        stop(proc)


def test_the_token_sets_a_strict_httponly_cookie_and_leaves_the_address_bar(home):
    proc, port = serve(home)
    try:
        code, headers, _ = status_of(port, f"/?token={TOKEN}&fontsize=20")
        assert code == 303 and headers["Location"] == "/?fontsize=20"
        cookie = headers["Set-Cookie"]
        assert cookie.startswith(f"{COOKIE.format(port=port)}={TOKEN};")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        code, _, page = status_of(port, "/?fontsize=20", headers=with_cookie(port))
        assert code == 200 and "data-font-size=\"20\"" in page
    finally:
        stop(proc)


def test_websocket_from_a_foreign_or_missing_origin_is_refused_before_the_upgrade(home):
    proc, port = serve(home)
    try:
        status_of(port)
        assert asyncio.run(ws_status(port, with_cookie(port), "http://evil.example"))[0] == 403
        assert asyncio.run(ws_status(port, with_cookie(port), f"http://127.0.0.1:{port + 1}"))[0] == 403
        assert asyncio.run(ws_status(port, with_cookie(port), None))[0] == 403
        assert asyncio.run(ws_status(port, with_cookie(port), "null"))[0] == 403
    finally:
        stop(proc)


def test_websocket_with_the_cookie_and_its_own_origin_drives_the_cockpit(home):
    proc, port = serve(home)
    try:
        status_of(port)
        code, first = asyncio.run(ws_status(port, with_cookie(port), f"http://127.0.0.1:{port}"))
        assert code == 101 and first                     # the cockpit answered through the socket
    finally:
        stop(proc)


def test_behind_an_ssh_tunnel_on_another_port_the_page_and_websocket_work(home):
    # ssh -L 9000:127.0.0.1:PORT: the browser sends Host localhost:9000 and Origin http://localhost:9000.
    proc, port = serve(home)
    try:
        tunnel = {**with_cookie(port), "Host": "localhost:9000"}
        code, _, page = status_of(port, headers=tunnel)
        assert code == 200
        assert 'data-session-websocket-url="ws://localhost:9000/ws"' in page     # not the bound port
        assert 'href="http://localhost:9000/static/css/xterm.css"' in page
        assert asyncio.run(ws_status(port, tunnel, "http://localhost:9000"))[0] == 101
        assert asyncio.run(ws_status(port, tunnel, f"http://127.0.0.1:{port}"))[0] == 403
    finally:
        stop(proc)


def test_a_bad_script_token_is_refused_with_what_to_do(home):
    proc, port = serve(home, token="short")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "Traceback" not in err
    assert "TUNER_SERVE_TOKEN" in err and "16" in err and "token_urlsafe" in err
    assert "serving" not in out


def test_a_port_in_use_says_so_without_a_traceback(home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "TUNER_HOME": str(home.root)}
        proc = subprocess.run([sys.executable, "-m", "tuner_tui", "serve", "--port", str(port)], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"cannot serve on 127.0.0.1:{port}" in proc.stderr and "--port" in proc.stderr


def test_the_token_is_not_handed_down_to_the_cockpit_and_its_workers():
    environ = {"TUNER_SERVE_TOKEN": TOKEN, "HOME": "/x"}
    assert start_token(environ) == TOKEN and "TUNER_SERVE_TOKEN" not in environ
    assert start_token({}) != start_token({})
    with pytest.raises(ServeTokenError):
        start_token({"TUNER_SERVE_TOKEN": "has space " + TOKEN})


def test_serve_on_all_interfaces_warns(home):
    proc, port = serve(home, "--host", "0.0.0.0")
    try:
        status_of(port)
    finally:
        _, err = stop(proc)
    assert "anyone who can reach port" in err and "ssh -L" in err


NOBODY_CLIENT = r"""
import socket, sys
port, pid, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def status(request):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request.encode())
        return s.recv(200).split(b"\r\n")[0].decode()
print(status(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"))
print(status(f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Origin: http://evil.example\r\n\r\n"))
print("token in cmdline:", token.encode() in open(f"/proc/{pid}/cmdline", "rb").read())
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another OS user")
def test_another_os_user_cannot_get_in_without_the_token(home):
    python = shutil.which("python3", path="/usr/bin:/bin")   # one the other user may execute (not under /root)
    if python is None:
        pytest.skip("no system python3 for the other user")
    proc, port = serve(home, token=None)
    try:
        status_of(port)
        token = proc.stdout.readline().split("token=")[1].strip()
        as_nobody = subprocess.run([python, "-I", "-c", NOBODY_CLIENT, str(port), str(proc.pid), token],
                                   user="nobody", group="nogroup", extra_groups=[], capture_output=True,
                                   text=True, timeout=30, cwd="/")
    finally:
        stop(proc)
    assert as_nobody.returncode == 0, as_nobody.stderr
    page, websocket, cmdline = as_nobody.stdout.splitlines()
    assert page.startswith("HTTP/1.1 403") and websocket.startswith("HTTP/1.1 403")
    assert cmdline == "token in cmdline: False"
