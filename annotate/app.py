"""The Gradio labelling page over :class:`annotate.service.AnnotationService`.

Handlers identify the annotator by the session's user name, never by anything the page sends.
The images are not Gradio components: the viewer is plain HTML whose ``<img>`` elements load
``item/<id>/<kind>`` from :mod:`annotate.server`, which serves only the assigned item's (and
the examples') images. That gives what raters need and Gradio's image components do not:

- native size (one image pixel per device pixel) and integer zoom steps with pixelated scaling
  (no smoothing, which would blur the very artefacts being judged); the rater moves the zoomed
  view by dragging or scrolling, and the largest-difference box is an optional hint, not the
  default (always showing the worst region pushes scores down);
- an A/B toggle between the interpolated frame and the ground truth on one canvas (key ``a``);
- a motion loop frame 0 -> middle -> frame 1 at the clip's frame rate, with the interpolated
  frame (``m``) or the ground truth (``g``) in the middle: artefacts are mostly seen in motion.

The page reports when all four images have loaded (``POST item/<id>/seen``); scores before that
and before the minimum viewing time are refused by the service, and the page does not even send
them. A refusal never breaks the page: it shows a message and the annotator's current item.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from typing import Any

import gradio as gr

from annotate.service import AccessDenied, AnnotationService, BrokenItem, ItemView, Progress, TooEarly
from dynvfi_core.errors import InputError

log = logging.getLogger(__name__)

SCORES = {
    4: "4 · excellent — no visible artefact",
    3: "3 · good — small artefacts",
    2: "2 · poor — clear artefacts",
    1: "1 · bad — broken frame",
}
LEVEL_HELP = {
    4: "Looks like the ground truth, also in motion.",
    3: "Small artefacts (slight blur, a faint halo at a moving edge) that you notice only when you look.",
    2: "Clear artefacts: doubled or smeared objects, broken edges, visible in motion at first sight.",
    1: "The frame is broken: large parts missing, ghosting of whole objects, wrong content.",
}


@dataclass(frozen=True)
class PageSettings:
    """What the page needs to know beyond the service (whose ``min_view_s`` it shows and mirrors)."""

    break_after_min: float = 25.0  # session-length reminder; 0 turns it off


CSS = """
.dv-viewer { font-size: 14px; }
.dv-tools { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin: 4px 0; }
.dv-tools button { padding: 2px 8px; border: 1px solid var(--border-color-primary); border-radius: 4px;
  background: var(--button-secondary-background-fill); cursor: pointer; }
.dv-tools button.on { background: var(--color-accent); color: white; }
.dv-label { font-weight: 600; margin: 2px 0; }
.dv-stage { overflow: auto; max-width: 100%; max-height: 72vh; border: 1px solid var(--border-color-primary);
  background: #202020; cursor: grab; }
.dv-canvas { position: relative; }
.dv-frame { position: absolute; left: 0; top: 0; width: 100%; height: 100%; visibility: hidden;
  image-rendering: pixelated; user-select: none; -webkit-user-drag: none; }
.dv-frame.on { visibility: visible; }
.dv-box { position: absolute; border: 2px dashed #ff3b30; pointer-events: none; box-sizing: border-box; }
.dv-wait { color: var(--body-text-color-subdued); }
.dv-progress progress { width: 100%; height: 10px; accent-color: var(--color-accent); }
.dv-break { background: #fff4d6; border: 1px solid #e0b000; padding: 6px; border-radius: 4px; color: #5a4500; }
.dv-examples { display: flex; flex-wrap: wrap; gap: 12px; }
.dv-examples figure { margin: 0; max-width: 320px; max-height: 320px; overflow: auto; }
.dv-examples img { display: block; max-width: none; }
#status { min-height: 1.5em; }
.dv-head { display: flex; justify-content: space-between; gap: 8px; }
.dv-help { font-size: 12px; }
.dv-tools button, .dv-tools select { font-size: 12px; font-weight: normal; }
.dv-tools select { height: 24px; width: auto; min-width: 60px; padding: 0 4px; }
.dv-stage { width: fit-content; }
"""

#: viewer behaviour, keys and the break reminder; installed once per page (Gradio's ``js=``)
PAGE_JS = r"""
() => {
  const W = window;
  if (W.dvInstalled) return; W.dvInstalled = true;
  const S = {item: null, ready: false, loadedAt: 0, minView: 1, mode: "interp", zoom: 1, timer: null,
             loop: null, hint: false, started: Date.now(), breakShown: false};
  W.dvState = S;
  const viewer = () => document.querySelector(".dv-viewer");
  const frames = (v) => Object.fromEntries([...v.querySelectorAll(".dv-frame")].map((i) => [i.dataset.kind, i]));
  function show(kind) {
    const v = viewer(); if (!v) return;
    for (const [k, img] of Object.entries(frames(v))) img.classList.toggle("on", k === kind);
    v.dataset.showing = kind;
    const names = {frame0: "Input frame 0", interp: "Interpolated (A)", gt: "Ground truth (B)", frame1: "Input frame 1"};
    v.querySelector(".dv-label").textContent = names[kind] + (S.loop ? " — motion loop" : "");
  }
  function stopLoop() {
    if (S.timer) clearInterval(S.timer);
    S.timer = null; S.loop = null;
    const v = viewer(); if (v) { v.dataset.loop = ""; v.querySelectorAll("[data-act^=loop]").forEach((b) => b.classList.remove("on")); }
  }
  function startLoop(middle) {
    const v = viewer(); if (!v) return;
    stopLoop();
    const fps = Number(v.dataset.fps) > 0 ? Number(v.dataset.fps) : 10;
    const speed = Number(v.querySelector(".dv-speed").value || 1);
    const seq = ["frame0", middle, "frame1"]; let i = 0;
    S.loop = middle; v.dataset.loop = middle;
    v.querySelector(`[data-act=loop-${middle}]`).classList.add("on");
    show(seq[0]);
    S.timer = setInterval(() => { i = (i + 1) % seq.length; show(seq[i]); }, 1000 / (fps * speed));
  }
  function setZoom(z) {
    const v = viewer(); if (!v) return;
    S.zoom = Math.max(1, Math.min(16, z));
    const dpr = W.devicePixelRatio || 1, w = Number(v.dataset.w), h = Number(v.dataset.h);
    const c = v.querySelector(".dv-canvas");
    c.style.width = (w * S.zoom / dpr) + "px"; c.style.height = (h * S.zoom / dpr) + "px";
    v.querySelector(".dv-zoom").textContent = S.zoom + "×";
    v.dataset.zoom = S.zoom;
    placeBox(v);
  }
  function placeBox(v) {
    const box = v.querySelector(".dv-box"), [x, y, bw, bh] = v.dataset.box.split(",").map(Number);
    const f = S.zoom / (W.devicePixelRatio || 1);
    Object.assign(box.style, {left: x * f + "px", top: y * f + "px", width: bw * f + "px", height: bh * f + "px"});
    box.hidden = !S.hint;
  }
  function jumpToBox() {
    const v = viewer(); if (!v) return;
    const st = v.querySelector(".dv-stage"), [x, y, bw, bh] = v.dataset.box.split(",").map(Number);
    const f = S.zoom / (W.devicePixelRatio || 1);
    st.scrollLeft = (x + bw / 2) * f - st.clientWidth / 2; st.scrollTop = (y + bh / 2) * f - st.clientHeight / 2;
  }
  function setReady(v) {
    S.ready = true; v.dataset.ready = "1";
    v.querySelector(".dv-wait").textContent = "";
  }
  async function init(v) {
    stopLoop();
    S.item = v.dataset.item; S.ready = false; S.minView = Number(v.dataset.minView || 0);
    v.dataset.ready = "";
    S.mode = "interp"; show("interp"); setZoom(1);
    v.querySelector(".dv-hint").checked = S.hint;
    const imgs = [...v.querySelectorAll(".dv-frame")];
    try {
      await Promise.all(imgs.map((i) => i.decode()));
    } catch (e) {
      v.querySelector(".dv-wait").textContent = "An image did not load: reload the page (the item stays yours).";
      return;
    }
    if (S.item !== v.dataset.item) return;
    S.loadedAt = performance.now();
    if (v.dataset.practice !== "1") {
      await fetch(`item/${S.item}/seen`, {method: "POST", credentials: "same-origin"});
    }
    if (S.item !== v.dataset.item) return;
    const item = S.item;
    setTimeout(() => { if (S.item === item) setReady(v); }, S.minView * 1000);
  }
  function flash(text) {
    const v = viewer(); if (v) v.querySelector(".dv-wait").textContent = text;
  }
  new MutationObserver(() => {
    const v = viewer();
    if (v && v.dataset.item && v.dataset.item !== v.dataset.inited) { v.dataset.inited = v.dataset.item; init(v); }
  }).observe(document.body, {childList: true, subtree: true, attributes: true, attributeFilter: ["data-item"]});
  setInterval(() => {  // session-length reminder
    const b = document.querySelector(".dv-breakbox");
    if (!b || S.breakShown || !(Number(b.dataset.after) > 0)) return;
    if (Date.now() - S.started < Number(b.dataset.after) * 60000) return;
    S.breakShown = true;
    b.innerHTML = `<div class="dv-break">You have been rating for ${Math.max(1, Math.round((Date.now() - S.started) / 60000))} min: ` +
      `take a short break — tired eyes give noisier scores. <button data-act="break-ok">OK</button></div>`;
  }, 1000);
  document.addEventListener("click", (e) => {
    const t = e.target.closest("[data-act]"); if (!t) return;
    const act = t.dataset.act;
    if (act === "ab") { stopLoop(); S.mode = S.mode === "interp" ? "gt" : "interp"; show(S.mode); }
    else if (act === "loop-interp" || act === "loop-gt") { const m = act.slice(5); if (S.loop === m) { stopLoop(); show(S.mode); } else startLoop(m); }
    else if (act === "stop") { stopLoop(); show(S.mode); }
    else if (act === "zoom-in") setZoom(S.zoom + 1);
    else if (act === "zoom-out") setZoom(S.zoom - 1);
    else if (act === "zoom-1") setZoom(1);
    else if (act === "jump") { S.hint = true; const v = viewer(); v.querySelector(".dv-hint").checked = true; placeBox(v); jumpToBox(); }
    else if (act === "break-ok") { S.started = Date.now(); S.breakShown = false; t.closest(".dv-breakbox").innerHTML = ""; }
  });
  document.addEventListener("change", (e) => {
    if (e.target.classList.contains("dv-hint")) { S.hint = e.target.checked; const v = viewer(); if (v) placeBox(v); }
    if (e.target.classList.contains("dv-speed") && S.loop) startLoop(S.loop);
  });
  let drag = null;
  document.addEventListener("mousedown", (e) => {
    const st = e.target.closest(".dv-stage"); if (!st) return;
    drag = {st, x: e.clientX, y: e.clientY, l: st.scrollLeft, t: st.scrollTop}; e.preventDefault();
  });
  document.addEventListener("mousemove", (e) => {
    if (!drag) return;
    drag.st.scrollLeft = drag.l - (e.clientX - drag.x); drag.st.scrollTop = drag.t - (e.clientY - drag.y);
  });
  document.addEventListener("mouseup", () => { drag = null; });
  const ids = {"1": "score-1", "2": "score-2", "3": "score-3", "4": "score-4", "s": "skip", "u": "undo"};
  document.addEventListener("keydown", (e) => {
    const tag = (e.target && e.target.tagName) || "";
    if (["INPUT", "TEXTAREA", "SELECT"].includes(tag) || e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
    const k = e.key.toLowerCase();
    const acts = {a: "ab", m: "loop-interp", g: "loop-gt", "+": "zoom-in", "=": "zoom-in", "-": "zoom-out", "0": "zoom-1"};
    if (acts[k]) { const b = document.querySelector(`.dv-viewer [data-act=${acts[k]}]`); if (b) { e.preventDefault(); b.click(); } return; }
    const id = ids[k]; if (!id) return;
    e.preventDefault();
    if ("1234".includes(k) && viewer() && !S.ready) { flash("Not yet: look at the item first (its images must load and stay for " + S.minView + " s)."); return; }
    const el = document.getElementById(id);
    if (el) el.click();
  });
}
"""

HELP = ("Rate the **interpolated frame** against the **ground truth**, in motion and at native size. Keys: `1`–`4` score · `s` skip · `u` undo · `a` A/B toggle · `m` motion loop "
        "(interpolated) · `g` motion loop (ground truth) · `+`/`-`/`0` zoom.")


def _user(request: gr.Request | None) -> str | None:
    return getattr(request, "username", None) if request is not None else None


def viewer_html(view: ItemView, min_view_s: float, practice: bool = False) -> str:
    """The item's viewer: four stacked images on one canvas, tools, and the data the script needs."""
    tid = view.triplet_id
    frames = "".join(
        f'<img class="dv-frame" data-kind="{k}" src="item/{tid}/{k}" alt="{k}" draggable="false">'
        for k in ("frame0", "interp", "gt", "frame1"))
    x, y, w, h = view.hint_box
    attrs = {"data-item": tid, "data-w": view.width, "data-h": view.height, "data-fps": f"{view.fps:g}",
             "data-min-view": f"{min_view_s:g}", "data-box": f"{x},{y},{w},{h}", "data-practice": int(practice)}
    attr = " ".join(f'{k}="{html.escape(str(v))}"' for k, v in attrs.items())
    fps = f"{view.fps:g} fps" if view.fps else "frame rate unknown: 10 fps"
    return (
        f'<div class="dv-viewer" {attr}>'
        '<div class="dv-tools">'
        '<button data-act="ab" title="a">A/B: interpolated ⇄ ground truth (a)</button>'
        '<button data-act="loop-interp" title="m">▶ motion, interpolated (m)</button>'
        '<button data-act="loop-gt" title="g">▶ motion, ground truth (g)</button>'
        '<button data-act="stop">■ still</button>'
        f'<select class="dv-speed" title="loop speed ({fps} at 1×)">'
        '<option value="1">1×</option><option value="0.5">½×</option><option value="0.25">¼×</option></select>'
        '<span>zoom</span><button data-act="zoom-out" title="-">−</button><span class="dv-zoom">1×</span>'
        '<button data-act="zoom-in" title="+">+</button><button data-act="zoom-1" title="0">1:1</button>'
        '<label><input type="checkbox" class="dv-hint"> hint: mark the largest difference</label>'
        '<button data-act="jump">go to it</button>'
        '</div>'
        f'<div class="dv-label">Interpolated (A)</div><div class="dv-wait">Loading {view.width}x{view.height} …</div>'
        f'<div class="dv-stage"><div class="dv-canvas" style="width:{view.width}px;height:{view.height}px">'
        f'{frames}<div class="dv-box" hidden></div></div></div>'
        '</div>')


def progress_html(p: Progress) -> str:
    done = p.rated + p.skipped
    return (f'<div class="dv-progress"><progress value="{done}" max="{max(p.total, 1)}"></progress>'
            f'{done} of {p.total} done' + (f' · {p.broken} set aside (images missing)' if p.broken else "") + '</div>')


def examples_html(examples: list[ItemView], answers: dict[int, int]) -> str:
    """Instructions: what each level means, with its example (interpolated and ground truth)."""
    rows = []
    for level in (4, 3, 2, 1):
        ex = next((v for v in examples if answers.get(v.triplet_id) == level), None)
        pics = ("<em>(no example: mark two or more control items of this level)</em>" if ex is None else
                # native size (1:1 pixels, as the item will be judged) in a box that scrolls, not a
                # downscaled thumbnail that hides the very artefacts the level describes
                f'<div class="dv-examples"><figure><figcaption>interpolated</figcaption><img '
                f'src="item/{ex.triplet_id}/interp" alt="interpolated"></figure><figure><figcaption>ground truth'
                f'</figcaption><img src="item/{ex.triplet_id}/gt" alt="ground truth"></figure></div>')
        rows.append(f"<h4>{html.escape(SCORES[level])}</h4><p>{html.escape(LEVEL_HELP[level])}</p>{pics}")
    return ("<p>Judge the interpolated middle frame against the ground truth. Look at native size, toggle A/B and "
            "play the motion loop before scoring; scores sent before the images have loaded and been visible for "
            "the minimum time are ignored. Skip (s) what you cannot judge.</p>" + "".join(rows))


class Page:
    """The handlers; each returns the values of :attr:`outputs`."""

    def __init__(self, service: AnnotationService, settings: PageSettings) -> None:
        self.service = service
        self.settings = settings

    def render(self, view: ItemView | None, name: str | None, message: str = "",
               practice: list[int] | None = None) -> list[Any]:
        """Values for: item id, status, viewer, progress, practice queue."""
        note = "".join(f" · ⚠ {n}" for n in (view.notices if view is not None else []))
        prefix = f"⚠ {message} · " if message else ""
        if view is None:
            p = self.service.progress(name)
            done = f"{prefix}**All done** — {p.rated} rated, {p.skipped} skipped. Thank you!"
            return ["", done, "", progress_html(p), []]
        p = view.progress
        status = (f"{prefix}Item **#{view.triplet_id}** · rated {p.rated} · skipped {p.skipped} · "
                  f"remaining {p.remaining} of {p.total}")
        if view.previous_score is not None:
            status += f" · undone: your score was {view.previous_score}"
        return [str(view.triplet_id), status + note, viewer_html(view, self.service.min_view_s or 0.0),
                progress_html(p), practice or []]

    def stalled(self, name: str | None, exc: BrokenItem, message: str = "") -> list[Any]:
        """Nothing showable is left, but items remain: say so (never "All done")."""
        p = self.service.progress(name)
        status = (f"{'⚠ ' + message + ' · ' if message else ''}**No item can be shown right now** — "
                  f"{p.remaining} remain but their images cannot be loaded ({exc}). The operator has been told; "
                  "please reload later.")
        return ["", status, "", progress_html(p), []]

    def current(self, name: str | None, message: str = "") -> list[Any]:
        try:
            return self.render(self.service.current(name), name, message)
        except BrokenItem as exc:
            return self.stalled(name, exc, message)

    def guarded(self, action: str, name: str | None, fn) -> list[Any]:
        """Run ``fn``; a refusal is logged as one line and answered with the current item and a message."""
        try:
            return fn()
        except BrokenItem as exc:
            return self.stalled(name, exc)
        except AccessDenied as exc:
            log.warning("refused %s for %s: %s", action, name or "anonymous", exc)
            if not name:
                raise gr.Error(str(exc)) from None
            if not isinstance(exc, TooEarly):
                gr.Warning(str(exc))
            return self.current(name, str(exc))

    # -- practice round on the examples ----------------------------------------------------------
    def practice_view(self, name: str | None, queue: list[int], feedback: str) -> list[Any]:
        views = {v.triplet_id: v for v in self.service.examples(name)}
        if not queue:
            return self.current(name, f"{feedback} · Practice finished: now the real items.".lstrip(" ·"))
        view = views[queue[0]]
        status = f"{feedback} · " if feedback else ""
        status += f"**Practice** ({len(views) - len(queue) + 1} of {len(views)}) — not stored. Score it as usual."
        return [str(view.triplet_id), status, viewer_html(view, self.service.min_view_s or 0.0, practice=True),
                progress_html(view.progress), queue]

    def practice_answer(self, name: str | None, queue: list[int], item_id: str, score: int | None) -> list[Any]:
        if not queue or str(queue[0]) != str(item_id):
            raise AccessDenied("this practice page is out of date")
        answer = self.service.answer(item_id)
        if score is None:
            feedback = f"Skipped; the reference score was {answer}"
        elif score == answer:
            feedback = f"✓ Right: {score}"
        else:
            feedback = f"✗ You said {score}, the reference score is {answer}"
        return self.practice_view(name, queue[1:], feedback)


def build_app(service: AnnotationService, settings: PageSettings | None = None) -> gr.Blocks:
    """The page; :func:`annotate.server.serve` mounts it (with :data:`CSS` and :data:`PAGE_JS`)."""
    page = Page(service, settings or PageSettings())

    def on_load(request: gr.Request):
        name = _user(request)
        values = page.guarded("load", name, lambda: page.current(name))
        shown = service.examples(name)
        return values + [examples_html(shown, {v.triplet_id: service.answer(v.triplet_id) for v in shown})]

    def make_vote(score: int | None):
        def on_vote(item_id: str, queue: list[int], request: gr.Request):
            name = _user(request)
            if queue:
                return page.guarded("practice", name, lambda: page.practice_answer(name, queue, item_id, score))
            return page.guarded(f"vote {score}", name,
                                lambda: page.render(service.vote(name, item_id, score), name))
        return on_vote

    def on_undo(request: gr.Request):
        name = _user(request)
        return page.guarded("undo", name, lambda: page.render(service.undo(name), name))

    def on_practice(request: gr.Request):
        name = _user(request)
        queue = [v.triplet_id for v in service.examples(name)]
        if not queue:
            return page.current(name, "no examples to practise on (the operator has marked too few control items)")
        return page.guarded("practice", name, lambda: page.practice_view(name, queue, ""))

    with gr.Blocks(title="DynVFI annotation", fill_width=True) as demo:
        item_id = gr.Textbox(visible=False, elem_id="item-id")
        queue = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=480):
                viewer = gr.HTML("", elem_id="viewer", padding=False)
            with gr.Column(scale=1, min_width=300):
                gr.HTML('<div class="dv-head"><b>DynVFI — rate the interpolated frame</b>'
                        '<a href="logout" id="logout">Log out</a></div>', padding=False)
                status = gr.Markdown(elem_id="status")
                progress = gr.HTML("", elem_id="progress", padding=False)
                gr.HTML(f'<div class="dv-breakbox" data-after="{page.settings.break_after_min:g}"></div>',
                        padding=False)
                buttons = {k: gr.Button(SCORES[k], elem_id=f"score-{k}", variant="primary", size="sm")
                           for k in (4, 3, 2, 1)}
                with gr.Row():
                    skip = gr.Button("Skip (s)", elem_id="skip", size="sm", min_width=80)
                    undo = gr.Button("Undo (u)", elem_id="undo", size="sm", min_width=80)
                gr.Markdown(HELP, elem_classes="dv-help")
                with gr.Accordion("Instructions and one example per level", open=False, elem_id="instructions"):
                    practice = gr.Button("Practise on the examples (feedback, not stored)", elem_id="practice",
                                         size="sm")
                    examples = gr.HTML("", elem_id="examples")

        outputs = [item_id, status, viewer, progress, queue]
        demo.load(on_load, outputs=outputs + [examples], api_name="current")
        for k, button in buttons.items():
            button.click(make_vote(k), inputs=[item_id, queue], outputs=outputs, api_name=f"vote_{k}")
        skip.click(make_vote(None), inputs=[item_id, queue], outputs=outputs, api_name="skip")
        undo.click(on_undo, outputs=outputs, api_name="undo")
        practice.click(on_practice, outputs=outputs, api_name="practice")
    return demo


def launch(service: AnnotationService, host: str = "127.0.0.1", port: int = 7860, block: bool = True,
           concurrency: int = 32, settings: PageSettings | None = None, certfile=None, keyfile=None):
    """Serve the app (see :func:`annotate.server.serve`); ``block=False`` returns a handle with ``close()``."""
    from annotate.server import serve

    if service.min_view_s is None:
        raise InputError("the app needs a minimum viewing time (AnnotationService(min_view_s=...))")
    def build() -> tuple[gr.Blocks, dict]:
        demo = build_app(service, settings)
        demo.queue(default_concurrency_limit=concurrency)
        return demo, {"css": CSS, "js": PAGE_JS, "auth_message": (
            "DynVFI annotation — log in with the account created by `dynvfi annotate add-user`.")}

    return serve(service, build, host, port, block=block, certfile=certfile, keyfile=keyfile)
