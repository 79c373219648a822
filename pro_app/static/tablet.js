/* The patient's tablet: visual analogue scales, saving as you go, idle lock, one submit.
 * No number is ever shown to the patient; the value is kept in mm with one decimal. */
(function () {
  "use strict";
  var CSS_PX_PER_MM = 96 / 25.4;

  function calibration() {
    var stored = parseFloat(window.localStorage && localStorage.getItem("proapp.pxPerMm"));
    return stored > 0 ? { pxPerMm: stored, calibrated: true } : { pxPerMm: CSS_PX_PER_MM, calibrated: false };
  }

  function setupVas(root) {
    var track = root.querySelector(".vas-track");
    var line = root.querySelector(".vas-line");
    var mark = root.querySelector(".vas-mark");
    var value = root.querySelector(".vas-value");
    var meta = function (key) { return root.querySelector(".vas-meta-" + key); };
    var cal = calibration();
    var lengthPx = 100 * cal.pxPerMm;
    var available = track.clientWidth - 48; // room for the padding that makes the ends easy to touch
    if (available > 0 && lengthPx > available) { lengthPx = available; cal.calibrated = false; }
    line.style.width = lengthPx + "px";

    function show(mm) {
      if (mm === null) {
        mark.hidden = true;
        track.setAttribute("aria-valuetext", track.dataset.textUnmarked);
        track.removeAttribute("aria-valuenow");
        return;
      }
      mark.hidden = false;
      mark.style.left = (mm / 100 * line.getBoundingClientRect().width) + "px";
      track.setAttribute("aria-valuenow", String(Math.round(mm)));
      track.setAttribute("aria-valuetext", track.dataset.textMarked);
    }

    function set(mm) {
      mm = Math.max(0, Math.min(100, Math.round(mm * 10) / 10));
      value.value = mm.toFixed(1);
      meta("touched").value = "1";
      meta("line_px").value = line.getBoundingClientRect().width.toFixed(1);
      meta("px_per_mm").value = cal.pxPerMm.toFixed(4);
      meta("calibrated").value = cal.calibrated ? "1" : "0";
      show(mm);
      root.dispatchEvent(new Event("change", { bubbles: true }));
    }

    function fromPointer(event) {
      var box = line.getBoundingClientRect();
      set((event.clientX - box.left) / box.width * 100);
    }

    var dragging = false;
    track.addEventListener("pointerdown", function (event) {
      dragging = true;
      if (track.setPointerCapture) { try { track.setPointerCapture(event.pointerId); } catch (e) { /* synthetic events */ } }
      fromPointer(event);
      event.preventDefault();
    });
    track.addEventListener("pointermove", function (event) { if (dragging) { fromPointer(event); } });
    ["pointerup", "pointercancel"].forEach(function (name) {
      track.addEventListener(name, function () { dragging = false; });
    });
    track.addEventListener("keydown", function (event) {
      var current = value.value === "" ? null : parseFloat(value.value);
      var step = event.shiftKey ? 10 : 1;
      var next = null;
      if (event.key === "ArrowRight" || event.key === "ArrowUp") { next = current === null ? 50 : current + step; }
      else if (event.key === "ArrowLeft" || event.key === "ArrowDown") { next = current === null ? 50 : current - step; }
      else if (event.key === "Home") { next = 0; }
      else if (event.key === "End") { next = 100; }
      if (next !== null) { set(next); event.preventDefault(); }
    });
    root.querySelector(".vas-clear").addEventListener("click", function () {
      value.value = ""; meta("touched").value = ""; show(null);
      root.dispatchEvent(new Event("change", { bubbles: true }));
    });
    show(value.value === "" ? null : parseFloat(value.value));
    window.addEventListener("resize", function () { show(value.value === "" ? null : parseFloat(value.value)); });
  }

  /* Saving as you go. Every send carries the page's stamp: the revision it was shown at ("rev") and a
   * counter ("seq") that rises with each send, so the server keeps the newest and refuses an older one.
   * Once Next, Back, a language or the idle lock has been sent, no autosave follows it. */
  function autosave(form) {
    var timer = null;
    // Not form.action: the page's own field named "action" shadows that property.
    var url = form.getAttribute("action");
    var seqField = form.querySelector("input[name=seq]");
    var seq = parseInt(seqField ? seqField.value : "1", 10) || 1;
    var leaving = false; // the page has been sent: nothing may overtake it
    var stopped = false; // the server said this page is stale, foreign or locked
    var lastContact = Date.now();

    function next() {
      seq += 1;
      if (seqField) { seqField.value = String(seq); }
      return String(seq);
    }
    function stamped() {
      var data = new FormData(form);
      data.set("action", "autosave");
      data.set("seq", next());
      return data;
    }
    function save() {
      clearTimeout(timer);
      if (leaving || stopped) { return; }
      lastContact = Date.now();
      fetch(url, { method: "POST", body: stamped(), credentials: "same-origin" }).then(function (r) {
        if (r.status === 401) { stopped = true; window.location.reload(); } // locked: show the lock screen
        else if (r.status === 409) { stopped = true; }
      }).catch(function () {});
    }
    form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(save, 400); });
    // Runs before the browser collects the form's fields, so the page is sent with the newest seq.
    form.addEventListener("submit", function () { leaving = true; clearTimeout(timer); next(); });
    // The tablet going to sleep or the page being hidden: save what is on the page now.
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden" && navigator.sendBeacon && !leaving && !stopped) {
        navigator.sendBeacon(url, stamped());
      }
    });
    var idle = parseInt(form.dataset.idleSeconds || "0", 10);
    if (idle > 0) {
      // The server locks a tablet it has not heard from for `idle` seconds: touches keep it informed
      // (a save at most every 20 s), and the page locks itself a little before the server would.
      var lockAfter = idle > 180 ? idle - 90 : idle / 2;
      var idleTimer = null;
      var reset = function () {
        clearTimeout(idleTimer);
        if (Date.now() - lastContact > 20000) { save(); }
        idleTimer = setTimeout(function () {
          if (leaving) { return; }
          leaving = true;
          clearTimeout(timer);
          next();
          var input = document.createElement("input");
          input.type = "hidden"; input.name = "action"; input.value = "lock";
          form.appendChild(input); form.submit();
        }, lockAfter * 1000);
      };
      ["pointerdown", "keydown", "change"].forEach(function (name) { document.addEventListener(name, reset); });
      reset();
    }
  }

  // A checkbox question's "none of these" excludes every other answer, and they exclude it.
  function exclusiveNone(fieldset) {
    var boxes = fieldset.querySelectorAll("input[type=checkbox]");
    fieldset.addEventListener("change", function (event) {
      var box = event.target;
      if (!box.checked || box.type !== "checkbox") { return; }
      var isNone = box.value === fieldset.dataset.noneCode;
      boxes.forEach(function (other) {
        if (other !== box && (isNone || other.value === fieldset.dataset.noneCode)) { other.checked = false; }
      });
    });
  }

  function oneSubmit(form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent) { event.preventDefault(); return; }
      var submitter = event.submitter;
      if (submitter && submitter.name === "action") {
        var hidden = document.createElement("input");
        hidden.type = "hidden"; hidden.name = "action"; hidden.value = submitter.value;
        form.appendChild(hidden);
      }
      form.dataset.sent = "1";
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    });
  }

  document.querySelectorAll(".vas").forEach(setupVas);
  document.querySelectorAll("fieldset[data-none-code]").forEach(exclusiveNone);
  var pageForm = document.getElementById("page-form");
  if (pageForm) { autosave(pageForm); }
  document.querySelectorAll("form").forEach(oneSubmit);
})();
