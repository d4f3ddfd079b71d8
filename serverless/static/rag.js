// Docent's /rag test page. Every piece of text from the server or the documents is set with
// textContent (never as markup), and only http(s) links become clickable.
"use strict";

(function () {
  const ASK_URL = "v1/ask"; // relative: works under an API Gateway stage prefix too
  const $ = (id) => document.getElementById(id);
  let conversationId = null;

  function safeHref(url) {
    try {
      const parsed = new URL(url, window.location.href);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  function showError(text) {
    $("error").textContent = text;
    $("error").hidden = false;
  }

  function errorText(status, body) {
    let detail = body && (body.detail || body.message || body.error);
    if (detail && typeof detail !== "string") detail = JSON.stringify(detail);
    if (status === 401) return "Sign in first: paste a valid access token under 'Access token'." + (detail ? "\n" + detail : "");
    if (status === 403) return "You are not allowed to ask here." + (detail ? "\n" + detail : "");
    return "The question could not be answered (HTTP " + status + ")" + (detail ? ": " + detail : ".");
  }

  function render(data) {
    $("answer").textContent = data.answer || "";
    const confidence = Number(data.confidence);
    const band = String(data.confidence_band || "");
    const line = $("confidence");
    line.textContent = "Confidence: " + (Number.isFinite(confidence) ? Math.round(confidence * 100) + "%" : "n/a")
      + (band ? " (" + band + ")" : "");
    line.className = ["high", "medium", "low"].includes(band) ? "band-" + band : "";
    const list = $("links");
    list.replaceChildren();
    for (const ref of data.references || []) {
      const item = document.createElement("li");
      const label = String(ref.title || ref.source || "source");
      const href = ref.url ? safeHref(String(ref.url)) : null;
      if (href) {
        const link = document.createElement("a");
        link.href = href;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        link.textContent = label;
        item.appendChild(link);
      } else {
        item.appendChild(document.createTextNode(label));
      }
      if (ref.locator) {
        const where = document.createElement("span");
        where.className = "locator";
        where.textContent = " — " + String(ref.locator);
        item.appendChild(where);
      }
      list.appendChild(item);
    }
    $("result").hidden = false;
  }

  async function ask(event) {
    event.preventDefault();
    const question = $("question").value.trim();
    if (!question) return;
    $("error").hidden = true;
    $("status").textContent = "Thinking…";
    $("ask").disabled = true;
    const headers = { "Content-Type": "application/json", "Accept": "application/json" };
    const token = $("token").value.trim();
    if (token) headers["Authorization"] = "Bearer " + token;
    const payload = { question: question };
    if (conversationId) payload.conversation_id = conversationId;
    try {
      const response = await fetch(ASK_URL, { method: "POST", headers: headers, body: JSON.stringify(payload) });
      let body = null;
      try { body = await response.json(); } catch (e) { body = null; }
      if (!response.ok) {
        showError(errorText(response.status, body));
        return;
      }
      conversationId = body.conversation_id || body.session || conversationId;
      render(body);
    } catch (e) {
      showError("Docent could not be reached: " + e.message + ". Check your connection and try again.");
    } finally {
      $("status").textContent = "";
      $("ask").disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("ask-form").addEventListener("submit", ask);
    $("new").addEventListener("click", function () {
      conversationId = null;
      $("result").hidden = true;
      $("question").value = "";
      $("question").focus();
    });
  });
})();
