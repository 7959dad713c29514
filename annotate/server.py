"""Serving the labelling app: one ASGI application around the Gradio page, run by uvicorn.

Gradio's own login guards the page, its API, queue and files; around it this module adds what
Gradio does not do:

- ``/item/{id}/{kind}``: the only image route. It serves the four images (frame 0, interpolated,
  ground truth, frame 1) of the item the session's annotator is assigned, or of an example item,
  as ``image/*`` — nothing else under the data root (no ``.sqlite``, no ``.html`` or ``.svg``
  that a browser would run). Gradio itself is given no allowed path.
- ``POST /item/{id}/seen``: the page reports that the item's images have loaded; the viewing
  rule of :class:`annotate.service.AnnotationService` counts from then.
- login throttling (:mod:`annotate.throttle`) in front of Gradio's ``/login``: a locked name or
  address gets 429 with ``Retry-After`` and costs no bcrypt check;
- security headers on every response (CSP, X-Frame-Options, nosniff, no referrer; HSTS with TLS);
- TLS (``ssl_certfile``/``ssl_keyfile``) and a warning when binding beyond loopback without it;
- a private Gradio temporary folder (:class:`GradioTemp`), removed on shutdown, SIGTERM and
  SIGINT included (uvicorn turns both into a graceful stop).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Mount

from annotate.service import AccessDenied, AnnotationService
from annotate.throttle import LoginThrottle
from dynvfi_core.errors import InputError

log = logging.getLogger(__name__)

#: the page needs inline scripts/styles (Gradio's own bootstrap) and its websocket/SSE; nothing
#: is loaded from elsewhere, and no other site may frame it
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
       "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
       "connect-src 'self' ws: wss:; media-src 'self' blob:; object-src 'none'; base-uri 'self'; "
       "form-action 'self'; frame-ancestors 'none'")
HEADERS = {"content-security-policy": CSP, "x-frame-options": "DENY", "x-content-type-options": "nosniff",
           "referrer-policy": "no-referrer", "cross-origin-opener-policy": "same-origin"}
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
#: bcrypt checks at once: a login flood must not take every core from the raters
BCRYPT_SLOTS = 2
MAX_LOGIN_BODY = 64 * 1024

ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


class SecurityHeaders:
    """ASGI middleware adding :data:`HEADERS` (and HSTS under TLS) to every HTTP response."""

    def __init__(self, app: ASGIApp, tls: bool = False) -> None:
        self.app = app
        self.headers = [(k.encode(), v.encode()) for k, v in HEADERS.items()]
        if tls:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _v in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in self.headers if k not in names]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ThrottledLogin:
    """ASGI middleware in front of ``POST /login``: refuses locked names/addresses with 429 and
    records the outcome (Gradio answers 200 on success, 400 on wrong credentials)."""

    def __init__(self, app: ASGIApp, throttle: LoginThrottle) -> None:
        self.app = app
        self.throttle = throttle

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != "/login":
            return await self.app(scope, receive, send)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_LOGIN_BODY:
                return await PlainTextResponse("login request too large", status_code=413)(scope, receive, send)
            if not message.get("more_body"):
                break

        async def replay() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        form = await Request(scope, replay).form()
        name = str(form.get("username") or "")
        address = (scope.get("client") or ("?",))[0]
        wait = self.throttle.wait_s(name, address)
        if wait > 0:
            log.warning("login refused for '%s' from %s: locked for %.0f s more", name[:64], address, wait)
            response = PlainTextResponse(f"too many failed logins: try again in {wait:.0f} s", status_code=429,
                                         headers={"retry-after": str(max(1, round(wait)))})
            return await response(scope, replay, send)
        status: list[int] = []

        async def watch(message: dict) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, replay, watch)
        if status and status[0] == 200:
            self.throttle.succeeded(name, address)
        elif status and status[0] in (400, 401):
            lock = self.throttle.failed(name, address)
            log.warning("failed login for '%s' from %s%s", name[:64], address,
                        f": locked for {lock:.0f} s" if lock else "")


def login_checker(service: AnnotationService) -> Callable[[str, str], Awaitable[bool]]:
    """Gradio calls a plain auth function on its event loop; bcrypt's deliberate ~0.25 s would
    then stall every other annotator, so the check runs in a worker thread, at most
    :data:`BCRYPT_SLOTS` at once."""
    slots = asyncio.Semaphore(BCRYPT_SLOTS)

    async def check(username: str, password: str) -> bool:
        async with slots:
            return await asyncio.to_thread(service.login, username, password)

    return check


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_tls(host: str, certfile: Path | None, keyfile: Path | None) -> bool:
    """Validate the TLS options (both or neither, readable files); warn about clear-text serving
    beyond loopback. Returns whether TLS is on."""
    if (certfile is None) != (keyfile is None):
        raise InputError("give both --ssl-certfile and --ssl-keyfile, or neither")
    for p in (certfile, keyfile):
        if p is not None and not Path(p).is_file():
            raise InputError(f"TLS file not found: {p}")
    tls = certfile is not None
    if not tls and not is_loopback(host):
        msg = (f"serving on {host} without TLS: passwords and session cookies cross the network in clear "
               "text; pass --ssl-certfile/--ssl-keyfile or put a TLS proxy in front")
        log.warning(msg)
        print(f"warning: {msg}", file=sys.stderr, flush=True)
    return tls


def _session_user(gradio_app) -> Callable[[Request], str | None]:
    """The annotator of a request, from Gradio's session cookie (as Gradio's own routes do)."""

    def user(request: Request) -> str | None:
        token = (request.cookies.get(f"access-token-{gradio_app.cookie_id}")
                 or request.cookies.get(f"access-token-unsecure-{gradio_app.cookie_id}"))
        return gradio_app.tokens.get(token) if token else None

    return user


def create_app(service: AnnotationService, page, throttle: LoginThrottle, tls: bool, **mount_kwargs) -> FastAPI:
    """The ASGI application: item routes, then the Gradio page (with its login) at ``/``."""
    import gradio as gr

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    users: dict[str, Callable[[Request], str | None]] = {}

    def refused(what: str, name: str | None, exc: AccessDenied) -> Response:
        log.warning("refused %s for %s: %s", what, name or "anonymous", exc)
        return PlainTextResponse(str(exc), status_code=403 if name else 401)

    @app.get("/item/{item_id}/{kind}")
    async def item_image(item_id: str, kind: str, request: Request) -> Response:
        name = users["user"](request)
        try:
            if name is None:
                raise AccessDenied("not logged in")
            path = await asyncio.to_thread(service.image_file, name, item_id, kind)
        except AccessDenied as exc:
            return refused(f"image {item_id}/{kind}", name, exc)
        media = IMAGE_TYPES.get(path.suffix.lower())
        if media is None:
            return refused(f"image {item_id}/{kind}", name, AccessDenied(f"not an image file: {path.name}"))
        return FileResponse(path, media_type=media, headers={"cache-control": "private, max-age=3600"})

    @app.post("/item/{item_id}/seen")
    async def item_seen(item_id: str, request: Request) -> Response:
        name = users["user"](request)
        try:
            if name is None:
                raise AccessDenied("not logged in")
            await asyncio.to_thread(service.mark_seen, name, item_id)
        except AccessDenied as exc:
            resp = refused(f"seen {item_id}", name, exc)
            return resp if name is None else PlainTextResponse(str(exc), status_code=409)
        return Response(status_code=204)

    gr.mount_gradio_app(app, page, path="/", auth=login_checker(service), allowed_paths=[], show_error=True,
                        ssr_mode=False, footer_links=[], **mount_kwargs)
    gradio_app = next(r.app for r in app.routes if isinstance(r, Mount))
    users["user"] = _session_user(gradio_app)
    app.add_middleware(ThrottledLogin, throttle=throttle)
    app.add_middleware(SecurityHeaders, tls=tls)
    app.state.gradio = gradio_app
    return app


class _Uvicorn(uvicorn.Server):
    """uvicorn waits for open connections before it shuts down; Gradio keeps a heartbeat stream
    open per page, which ends only when Gradio's stop event is set — so set it first."""

    def __init__(self, config: uvicorn.Config, page) -> None:
        super().__init__(config)
        self.page = page

    def handle_exit(self, sig: int, frame) -> None:
        """SIGTERM/SIGINT stop the server gracefully; uvicorn would then re-raise the signal and kill
        the process before :func:`serve` removes its temporary folder, so here it ends normally."""
        super().handle_exit(sig, frame)
        self._captured_signals.clear()

    async def shutdown(self, sockets=None) -> None:
        self.page._queue.close()
        self.page.is_running = False
        self.config.app.state.gradio.stop_event.set()
        await super().shutdown(sockets)


class GradioTemp:
    """A private folder for everything Gradio writes (its file cache, its edit history), removed
    by :meth:`cleanup`. Gradio reads ``GRADIO_TEMP_DIR`` when a page is built, and one folder name
    (``gradio.routes.DEFAULT_TEMP_DIR``) already at import: both point here while serving."""

    def __init__(self) -> None:
        import gradio.routes

        self._routes = gradio.routes
        self._dir = tempfile.TemporaryDirectory(prefix="dynvfi-gradio-")
        self._old = os.environ.get("GRADIO_TEMP_DIR"), gradio.routes.DEFAULT_TEMP_DIR
        os.environ["GRADIO_TEMP_DIR"] = gradio.routes.DEFAULT_TEMP_DIR = self._dir.name

    def cleanup(self) -> None:
        env, routes_dir = self._old
        if env is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = env
        self._routes.DEFAULT_TEMP_DIR = routes_dir
        self._dir.cleanup()


@dataclass
class Server:
    """A running (or finished) server; :meth:`close` stops it and removes its temporary folder."""

    server: _Uvicorn
    temp: GradioTemp
    thread: threading.Thread | None = None

    def close(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=30)
        self.temp.cleanup()


def serve(service: AnnotationService, build_page: Callable[[], tuple[object, dict]], host: str, port: int,
          block: bool = True, certfile: Path | None = None, keyfile: Path | None = None,
          throttle: LoginThrottle | None = None) -> Server:
    """Build the page (``build_page`` returns the Blocks and its mount options) and serve it.

    ``block=True`` returns after SIGINT/SIGTERM, with everything cleaned up; ``block=False``
    returns once the server accepts connections (tests, benchmarks) — call ``close()``.
    """
    tls = check_tls(host, certfile, keyfile)
    temp = GradioTemp()
    try:
        page, mount_kwargs = build_page()
        app = create_app(service, page, throttle or LoginThrottle(), tls, **mount_kwargs)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                                ssl_certfile=str(certfile) if certfile else None,
                                ssl_keyfile=str(keyfile) if keyfile else None, timeout_graceful_shutdown=5)
        handle = Server(_Uvicorn(config, page), temp)
    except BaseException:
        temp.cleanup()
        raise
    if block:
        try:
            handle.server.run()  # SIGINT/SIGTERM end it gracefully (see _Uvicorn.handle_exit)
        finally:
            handle.close()
        return handle
    handle.thread = threading.Thread(target=handle.server.run, name="annotate-server", daemon=True)
    handle.thread.start()
    deadline = time.monotonic() + 60
    while not handle.server.started:
        if not handle.thread.is_alive() or time.monotonic() > deadline:
            handle.close()
            raise InputError(f"the annotation server did not start on {host}:{port}")
        time.sleep(0.05)
    return handle
