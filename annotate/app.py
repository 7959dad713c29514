"""The Gradio labelling app: a thin page over :class:`annotate.service.AnnotationService`.

Gradio's own login (``auth=``) guards every route — page, API, queue and files — so nothing is
readable or writable before the bcrypt check; handlers then identify the annotator by the
session's user name, never by anything the page sends. Image paths come only from the service,
which resolves them inside the data root (or its own zoom cache); Gradio is allowed to serve
files from those two folders and nowhere else, and serves them without re-encoding.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import gradio as gr

from annotate.service import AccessDenied, AnnotationService, ItemView

SCORES = {
    4: "4 · excellent — no visible artefact",
    3: "3 · good — small artefacts",
    2: "2 · poor — clear artefacts",
    1: "1 · bad — broken frame",
}

#: keys 1-4 score, s skips, u undoes, f flicks the inputs (ignored while typing in a field)
KEYS_JS = """
() => {
  const ids = {"1": "score-1", "2": "score-2", "3": "score-3", "4": "score-4", "s": "skip", "u": "undo", "f": "flick"};
  document.addEventListener("keydown", (e) => {
    const tag = (e.target && e.target.tagName) || "";
    if (["INPUT", "TEXTAREA", "SELECT"].includes(tag) || e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
    const id = ids[e.key.toLowerCase()];
    if (!id) return;
    const el = document.getElementById(id);
    if (el) { e.preventDefault(); el.click(); }
  });
}
"""

HELP = ("Rate how good the **interpolated frame (RIFE)** looks compared with the **ground truth**: "
        "4 excellent · 3 good · 2 poor · 1 bad. Keys: `1`–`4` score, `s` skip, `u` undo, `f` flick inputs.")


def _user(request: gr.Request | None) -> str | None:
    return getattr(request, "username", None) if request is not None else None


def _outputs(view: ItemView | None, service: AnnotationService, name: str | None) -> list[Any]:
    """Values for: item id, status, rife, gt, slider, zoom rife, zoom gt, flick image, flick state."""
    if view is None:
        p = service.progress(name)
        done = f"**All done** — {p.rated} rated, {p.skipped} skipped. Thank you!"
        return ["", done, None, None, None, None, None, None, 0]
    p = view.progress
    status = (f"Item **#{view.triplet_id}** · rated {p.rated} · skipped {p.skipped} · "
              f"remaining {p.remaining} of {p.total}")
    if view.previous_score is not None:
        status += f" · undone: your score was {view.previous_score}"
    x, y, w, h = view.zoom_box
    return [str(view.triplet_id), status, str(view.rife), str(view.gt), (str(view.rife), str(view.gt)),
            gr.update(value=str(view.zoom_rife), label=f"Zoom on the largest difference ({w}x{h} px at {x},{y})"
                      " — interpolated"),
            str(view.zoom_gt), gr.update(value=str(view.frame0), label=_flick_label(0)), 0]


def _flick_label(which: int) -> str:
    return f"Input frame {which} (press f to flick)"


def _guard(fn):
    """Turn refusals into a visible error instead of a crash; nothing has changed by then."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AccessDenied as exc:
            raise gr.Error(str(exc)) from None

    return wrapper


def build_app(service: AnnotationService) -> gr.Blocks:
    """The page; call ``.queue(...).launch(auth=service.login, js=KEYS_JS, ...)`` on it."""

    @_guard
    def on_load(request: gr.Request):
        name = _user(request)
        return _outputs(service.current(name), service, name)

    def make_vote(score: int | None):
        @_guard
        def on_vote(item_id: str, request: gr.Request):
            name = _user(request)
            return _outputs(service.vote(name, item_id, score), service, name)
        return on_vote

    @_guard
    def on_undo(request: gr.Request):
        name = _user(request)
        return _outputs(service.undo(name), service, name)

    @_guard
    def on_flick(item_id: str, shown: int, request: gr.Request):
        name = _user(request)
        view = service.current(name)
        if view is None or str(view.triplet_id) != str(item_id):
            raise AccessDenied("this page is out of date: reload it")
        nxt = 1 - int(shown or 0)
        return gr.update(value=str(view.frame1 if nxt else view.frame0), label=_flick_label(nxt)), nxt

    with gr.Blocks(title="DynVFI annotation") as demo:
        gr.Markdown("## DynVFI — rate the interpolated frame\n" + HELP)
        status = gr.Markdown(elem_id="status")
        item_id = gr.Textbox(visible=False, elem_id="item-id")
        shown = gr.State(0)
        with gr.Row():
            buttons = {k: gr.Button(SCORES[k], elem_id=f"score-{k}", variant="primary") for k in (4, 3, 2, 1)}
        with gr.Row():
            skip = gr.Button("Skip (s)", elem_id="skip", size="sm")
            undo = gr.Button("Undo (u)", elem_id="undo", size="sm")
            flick = gr.Button("Flick inputs (f)", elem_id="flick", size="sm")
        with gr.Row():
            rife = gr.Image(label="Interpolated (RIFE)", format="png", interactive=False, elem_id="img-rife")
            gt = gr.Image(label="Ground truth", format="png", interactive=False, elem_id="img-gt")
        slider = gr.ImageSlider(label="Slide: interpolated | ground truth", format="png", interactive=False)
        with gr.Row():
            zoom_rife = gr.Image(label="Zoom on the largest difference — interpolated", format="png",
                                 interactive=False)
            zoom_gt = gr.Image(label="Zoom — ground truth", format="png", interactive=False)
        flick_img = gr.Image(label=_flick_label(0), format="png", interactive=False, elem_id="img-flick")

        outputs = [item_id, status, rife, gt, slider, zoom_rife, zoom_gt, flick_img, shown]
        demo.load(on_load, outputs=outputs, api_name="current")
        for k, button in buttons.items():
            button.click(make_vote(k), inputs=[item_id], outputs=outputs, api_name=f"vote_{k}")
        skip.click(make_vote(None), inputs=[item_id], outputs=outputs, api_name="skip")
        undo.click(on_undo, outputs=outputs, api_name="undo")
        flick.click(on_flick, inputs=[item_id, shown], outputs=[flick_img, shown], api_name="flick")
    return demo


def _login_checker(service: AnnotationService):
    """Gradio calls a plain auth function on its event loop; bcrypt's deliberate ~0.25 s would
    then stall every other annotator, so the check runs in a worker thread instead."""

    async def check(username: str, password: str) -> bool:
        return await asyncio.to_thread(service.login, username, password)

    return check


def launch(service: AnnotationService, host: str = "127.0.0.1", port: int = 7860, block: bool = True,
           concurrency: int = 32) -> gr.Blocks:
    """Serve the app; ``block=False`` returns at once (tests, benchmarks)."""
    demo = build_app(service)
    demo.queue(default_concurrency_limit=concurrency)
    demo.launch(server_name=host, server_port=port, auth=_login_checker(service),
                allowed_paths=[str(service.data_root), str(service.cache_dir)],
                auth_message="DynVFI annotation — log in with the account created by `dynvfi annotate add-user`.",
                js=KEYS_JS, prevent_thread_lock=not block, show_error=True, quiet=True, ssr_mode=False,
                footer_links=[])
    return demo
