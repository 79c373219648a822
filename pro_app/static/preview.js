/* pro-app preview: fit the tablet frame(s) in the window, keep side-by-side frames on the same page,
 * refresh the scores after each saved answer, and reload when the questionnaire file changes. */
(function () {
  "use strict";
  var body = document.body;
  if (!body.hasAttribute("data-preview")) { return; }
  var revision = body.dataset.revision;
  var changes = body.dataset.changes;
  var frames = Array.prototype.slice.call(document.querySelectorAll("iframe.tablet-frame"));
  var STORE = "proapp.preview.page";
  var GAP = 16;
  var BEZEL = 16;  // the frame's border, both sides

  // A real tablet-sized viewport (820 x 1180 CSS px), scaled down to fit the window.
  function fit() {
    var area = document.querySelector(".frames");
    if (!area) { return; }
    var boxes = area.querySelectorAll(".frame-box");
    var top = area.getBoundingClientRect().top + window.scrollY;
    var room = Math.max(area.clientWidth - GAP * (boxes.length - 1), 200) / boxes.length - BEZEL;
    var height = Math.max(window.innerHeight - top - 40 - BEZEL, 320);
    Array.prototype.forEach.call(boxes, function (box) {
      var frame = box.querySelector("iframe");
      var w = parseInt(frame.getAttribute("width"), 10);
      var h = parseInt(frame.getAttribute("height"), 10);
      var scale = Math.min(1, room / w, height / h);
      var holder = box.querySelector(".frame-fit");
      holder.style.width = Math.floor(w * scale) + "px";
      holder.style.height = Math.floor(h * scale) + "px";
      frame.style.transform = "scale(" + scale + ")";
    });
  }

  function pathOf(frame) {
    try { return frame.contentWindow.location.pathname; } catch (e) { return ""; }
  }

  // "/tablet/sv/q/x/p/2" -> "/q/x/p/2": the same step in any language.
  function step(path) {
    var match = /^\/tablet\/(?:sv|en)(\/.*)$/.exec(path || "");
    return match ? match[1] : null;
  }

  function show(frame, rest) {
    frame.contentWindow.location.replace("/tablet/" + frame.dataset.lang + rest);
  }

  frames.forEach(function (frame) {
    frame.addEventListener("load", function () {
      var rest = step(pathOf(frame));
      if (!rest) { return; }
      try { sessionStorage.setItem(STORE, rest); } catch (e) { /* private mode */ }
      frames.forEach(function (other) {
        if (other !== frame && step(pathOf(other)) !== rest) { show(other, rest); }
      });
    });
  });

  // After a reload (the file changed, or another view): back to the step the author was on.
  var saved = null;
  try { saved = sessionStorage.getItem(STORE); } catch (e) { saved = null; }
  if (saved && /^\/q\//.test(saved)) {
    frames.forEach(function (frame) { frame.src = "/tablet/" + frame.dataset.lang + saved; });
  }

  function refreshPanel() {
    var panel = document.getElementById("panel-live");
    if (!panel) { return; }
    fetch(body.dataset.panelUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html !== null) { panel.innerHTML = html; } })
      .catch(function () {});
  }

  // Answers saved in one frame: show them in the others (not the one being used).
  function refreshOtherFrames() {
    frames.forEach(function (frame) {
      var rest = step(pathOf(frame));
      if (rest && document.activeElement !== frame) { show(frame, rest); }
    });
  }

  function poll() {
    fetch(body.dataset.statusUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.json(); })
      .then(function (status) {
        if (status.revision !== revision) { window.location.reload(); return; }
        if (String(status.changes) !== changes) {
          changes = String(status.changes);
          refreshPanel();
          if (frames.length > 1) { refreshOtherFrames(); }
        }
      })
      .catch(function () { /* the preview was stopped: keep trying quietly */ })
      .then(function () { window.setTimeout(poll, 800); });
  }

  // "Start over": the frames start from the first page again.
  var reset = document.querySelector("form.reset");
  if (reset) {
    reset.addEventListener("submit", function () {
      try { sessionStorage.removeItem(STORE); } catch (e) { /* private mode */ }
    });
  }

  window.addEventListener("resize", fit);
  fit();
  window.setTimeout(poll, 800);
})();
