"""Two small browser helpers for the Chat page that Streamlit has no element for (issue 12).

- `copy_button(text, key)`   a Copy button that puts an answer on the clipboard.
- `announce(message, key)`   says `message` once through a polite live region, so a screen reader
                             hears that an answer arrived (Streamlit's chat has no announcement).

Both are `st.components.v2` components: no iframe, a few lines of our own JavaScript. The text
travels as the component's JSON data and is only ever written with `textContent` or to the
clipboard, never parsed as HTML, so an answer cannot inject markup or script.

>>> COPY_JS.count("innerHTML"), ANNOUNCE_JS.count("innerHTML")
(0, 0)
"""

from __future__ import annotations

import streamlit as st

LIVE_REGION_ID = "docent-live"  # one region in the page's <body>, outside Streamlit's tree, so reruns keep it

# Material "content_copy", drawn by the script below (the button is built there, outside Streamlit's React tree,
# so its "Copied" label is not reset by a re-render)
COPY_ICON = (
    "M9 18q-.825 0-1.412-.587T7 16V4q0-.825.588-1.412T9 2h9q.825 0 1.413.588T20 4v12q0 .825-.587 1.413T18 18zm0-2h9V4H9z"
    "m-4 6q-.825 0-1.412-.587T3 20V6h2v14h11v2zm4-6V4z"
)

COPY_CSS = """
.copy { display: inline-flex; align-items: center; gap: .35rem; padding: .25rem .5rem; border: 0;
  border-radius: var(--st-button-radius, .5rem); background: transparent; color: var(--st-text-color);
  font: inherit; font-family: var(--st-font); font-size: .875rem; line-height: 1.6; cursor: pointer; }  /* as st.button */
.copy:hover { color: var(--st-primary-color); }
.copy:focus-visible { outline: 2px solid var(--st-primary-color); outline-offset: 2px; }
.sr { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden;
  clip: rect(0 0 0 0); clip-path: inset(50%); white-space: nowrap; border: 0; }
"""

# navigator.clipboard needs a secure context (https, or http on localhost); plain http elsewhere falls back
# to a hidden textarea and execCommand, which browsers still honour inside a click.
COPY_JS = """
function legacyCopy(text) {
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
  area.remove();
  return ok;
}
function build(root) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "copy";
  button.title = "Copy the answer to the clipboard";
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "16");
  svg.setAttribute("height", "16");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", "__ICON__");
  svg.appendChild(path);
  const label = document.createElement("span");
  label.className = "label";
  label.textContent = "Copy";
  button.append(svg, label);
  const status = document.createElement("span");
  status.className = "sr";
  status.setAttribute("role", "status");
  root.append(button, status);
  return button;
}
export default function (component) {
  const { data, parentElement } = component;
  const button = parentElement.querySelector("button.copy") || build(parentElement);
  button.onclick = async () => {
    const label = button.querySelector(".label");
    const status = button.parentNode.querySelector(".sr");
    const text = (data && data.text) || "";
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        ok = true;
      } else {
        ok = legacyCopy(text);
      }
    } catch (e) {
      ok = legacyCopy(text);
    }
    label.textContent = ok ? "Copied" : "Copy failed";
    status.textContent = ok ? "Answer copied to the clipboard" : "Could not copy: select the answer and copy it";
    button.dataset.copied = ok ? "1" : "0";
    setTimeout(() => { label.textContent = "Copy"; status.textContent = ""; }, 2500);
  };
}
""".replace("__ICON__", COPY_ICON)

# The region is created on the first mount and stays in <body>; a message is spoken once per key (a rerun
# that mounts the same announcement again says nothing). Emptied first, so the same words are heard twice.
ANNOUNCE_JS = """
export default function (component) {
  const { data } = component;
  let region = document.getElementById("__REGION__");
  if (!region) {
    region = document.createElement("div");
    region.id = "__REGION__";
    region.className = "visually-hidden";
    region.setAttribute("role", "status");
    region.setAttribute("aria-live", "polite");
    region.setAttribute("aria-atomic", "true");
    document.body.appendChild(region);
  }
  if (!data || !data.message || region.dataset.said === data.key) return;
  region.dataset.said = data.key;
  region.textContent = "";
  setTimeout(() => { region.textContent = data.message; }, 150);
}
""".replace("__REGION__", LIVE_REGION_ID)

_copy = st.components.v2.component("docent_copy_answer", css=COPY_CSS, js=COPY_JS)
_announce = st.components.v2.component("docent_announce", js=ANNOUNCE_JS)


def copy_button(text: str, key: str) -> None:
    """A Copy button for `text` (an answer); the text is data, never HTML."""
    _copy(key=key, data={"text": text}, width="content")


def announce(message: str | None, key: str | None = None) -> None:
    """Mount the page's live region and, when `message` is given, say it once (per `key`).

    Mount it on every run, with None when there is nothing new: a live region that exists before its
    text changes is what screen readers announce reliably."""
    _announce(key="docent_live", data={"message": message or "", "key": key or ""}, width="content")
