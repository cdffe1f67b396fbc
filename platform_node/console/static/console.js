// The console works without this file; with it, a running batch's progress updates in place instead of
// through the page's two-second refresh. No third-party code, nothing loaded from elsewhere.
"use strict";
(function () {
  const box = document.getElementById("batch-run");
  if (!box || !window.fetch) { return; }
  const url = box.dataset.progressUrl;
  const bar = document.getElementById("batch-progress");
  async function poll() {
    try {
      const reply = await fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } });
      if (!reply.ok) { return; }
      const state = await reply.json();
      bar.max = state.total; bar.value = state.done;
      if (state.state !== "RUNNING") { window.location.reload(); return; }
      setTimeout(poll, 700);
    } catch (e) { /* the meta refresh still applies */ }
  }
  if (box.dataset.running === "1") { setTimeout(poll, 700); }
}());
