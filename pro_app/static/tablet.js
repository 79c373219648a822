/* The patient's tablet: visual analogue scales, saving as you go, idle warning and lock, one submit.
 * No number is ever shown to the patient; the value is kept in mm with one decimal. */
(function () {
  "use strict";
  var CSS_PX_PER_MM = 96 / 25.4;

  function calibration() {
    var stored = parseFloat(window.localStorage && localStorage.getItem("proapp.pxPerMm"));
    return stored > 0 ? { pxPerMm: stored, calibrated: true } : { pxPerMm: CSS_PX_PER_MM, calibrated: false };
  }

  // The position in words, never as a number: "about a third of the way from Ingen aktivitet to Extremt aktiv".
  var FRACTIONS = [1 / 10, 1 / 5, 1 / 4, 1 / 3, 2 / 5, 3 / 5, 2 / 3, 3 / 4, 4 / 5, 9 / 10];
  function positionInWords(track, mm) {
    var d = track.dataset;
    if (mm === null) { return d.textUnmarked; }
    if (mm <= 0.5 || mm >= 99.5) { return d.textEnd.replace("{anchor}", mm <= 0.5 ? d.low : d.high); }
    if (mm < 7 || mm > 93) { return d.textNear.replace("{anchor}", mm < 7 ? d.low : d.high); }
    if (mm >= 47 && mm <= 53) { return d.textMiddle; }
    var parts = d.parts.split("|"), best = 0;
    FRACTIONS.forEach(function (f, i) { if (Math.abs(f * 100 - mm) < Math.abs(FRACTIONS[best] * 100 - mm)) { best = i; } });
    return d.textPart.replace("{part}", parts[best]);
  }

  var TOLERANCE_MM = 4; // the track reaches this far past each end: a touch further out sets nothing

  function setupVas(root) {
    var scale = root.querySelector(".vas-scale");
    var track = root.querySelector(".vas-track");
    var line = root.querySelector(".vas-line");
    var mark = root.querySelector(".vas-mark");
    var value = root.querySelector(".vas-value");
    var meta = function (key) { return root.querySelector(".vas-meta-" + key); };
    var cal = calibration();

    // 100 mm on this screen (calibrated), centred, with the anchors at its ends; shorter only if it cannot fit.
    function layout() {
      var pad = TOLERANCE_MM * cal.pxPerMm;
      var lengthPx = 100 * cal.pxPerMm;
      var available = root.clientWidth - 2 * pad;
      cal.fits = !(available > 0 && lengthPx > available);
      if (!cal.fits) { lengthPx = available; }
      line.style.width = lengthPx + "px";
      track.style.paddingLeft = track.style.paddingRight = pad + "px";
      scale.style.width = (lengthPx + 2 * pad) + "px";
      scale.style.setProperty("--vas-pad", pad + "px");
    }

    function current() { return value.value === "" ? null : parseFloat(value.value); }

    function show(mm) {
      track.setAttribute("aria-valuetext", positionInWords(track, mm));
      if (mm === null) {
        mark.hidden = true;
        track.removeAttribute("aria-valuenow");
        return;
      }
      mark.hidden = false;
      mark.style.left = (mm / 100 * line.getBoundingClientRect().width) + "px";
      track.setAttribute("aria-valuenow", String(Math.round(mm)));
    }

    function set(mm) {
      mm = Math.max(0, Math.min(100, Math.round(mm * 10) / 10));
      value.value = mm.toFixed(1);
      meta("touched").value = "1";
      meta("line_px").value = line.getBoundingClientRect().width.toFixed(1);
      meta("px_per_mm").value = cal.pxPerMm.toFixed(4);
      meta("calibrated").value = cal.calibrated && cal.fits ? "1" : "0";
      show(mm);
      track.removeAttribute("aria-invalid");
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
      var now = current();
      var step = event.shiftKey ? 10 : 1;
      var up = event.key === "ArrowRight" || event.key === "ArrowUp";
      var down = event.key === "ArrowLeft" || event.key === "ArrowDown";
      var next = null;
      // Unmarked, the first arrow key starts at the end it moves away from: right starts at the left end.
      if (up) { next = now === null ? 0 : now + step; }
      else if (down) { next = now === null ? 100 : now - step; }
      else if (event.key === "PageUp") { next = now === null ? 0 : now + 10; }
      else if (event.key === "PageDown") { next = now === null ? 100 : now - 10; }
      else if (event.key === "Home") { next = 0; }
      else if (event.key === "End") { next = 100; }
      if (next !== null) { set(next); event.preventDefault(); }
    });
    root.querySelector(".vas-clear").addEventListener("click", function () {
      value.value = ""; meta("touched").value = ""; show(null);
      root.dispatchEvent(new Event("change", { bubbles: true }));
    });
    layout();
    show(current());
    window.addEventListener("resize", function () { layout(); show(current()); });
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
    return {
      save: save,
      // Locking from the page sends the page (its answers are kept), then no autosave may follow.
      lock: function () {
        if (leaving) { return; }
        leaving = true;
        clearTimeout(timer);
        next();
        var input = document.createElement("input");
        input.type = "hidden"; input.name = "action"; input.value = "lock";
        form.appendChild(input); form.submit();
      },
      lastContact: function () { return lastContact; }
    };
  }

  /* The idle lock. The server locks a tablet it has not heard from for `idle` seconds; the page locks
   * itself a little before that, and a minute before it does (WCAG 2.2.1) it asks, in the patient's
   * language, whether they are still there: one large button keeps the tablet open. Touches keep the
   * server informed (at most every 20 s). */
  function idleLock(page) {
    var idleForm = document.getElementById("idle-form");
    var dialog = document.getElementById("idle-warning");
    var idle = idleForm ? parseFloat(idleForm.dataset.idleSeconds || "0") : 0;
    if (!(idle > 0) || !dialog) { return; }
    var lockAfter = idle > 180 ? idle - 90 : idle / 2;
    var warnBefore = Math.min(60, lockAfter / 2);
    var text = document.getElementById("idle-text");
    var lastContact = Date.now();
    var warnTimer = null, lockTimer = null, countdown = null;

    function keepAlive() {
      lastContact = Date.now();
      if (page) { page.save(); return; }
      fetch(idleForm.dataset.alive, { method: "POST", body: new FormData(idleForm), credentials: "same-origin" })
        .then(function (r) { if (r.redirected || r.status === 401) { window.location.reload(); } })
        .catch(function () {});
    }
    function lock() {
      clearInterval(countdown);
      if (page) { page.lock(); } else { idleForm.submit(); }
    }
    function warn() {
      var left = Math.round(warnBefore);
      var say = function () { text.textContent = text.dataset.text.replace("{seconds}", String(Math.max(left, 0))); };
      say();
      if (typeof dialog.showModal === "function") { dialog.showModal(); } else { dialog.setAttribute("open", ""); }
      countdown = setInterval(function () { left -= 1; say(); }, 1000);
    }
    function reset() {
      clearTimeout(warnTimer); clearTimeout(lockTimer); clearInterval(countdown);
      if (dialog.open) { dialog.close(); }
      var last = page ? Math.max(lastContact, page.lastContact()) : lastContact;
      if (Date.now() - last > 20000) { keepAlive(); }
      warnTimer = setTimeout(warn, (lockAfter - warnBefore) * 1000);
      lockTimer = setTimeout(lock, lockAfter * 1000);
    }
    function stay() { keepAlive(); reset(); }
    document.getElementById("idle-stay").addEventListener("click", stay);
    dialog.addEventListener("cancel", function (event) { event.preventDefault(); stay(); }); // Escape
    ["pointerdown", "keydown", "change"].forEach(function (name) {
      document.addEventListener(name, function () { if (!dialog.open) { reset(); } });
    });
    reset();
  }

  // After "Thank you!" the tablet locks by itself: nobody has to remember the button.
  function lockWhenDone() {
    var finish = document.getElementById("finish-form");
    var after = finish ? parseFloat(finish.dataset.lockAfter || "0") : 0;
    if (after > 0) { setTimeout(function () { finish.submit(); }, after * 1000); }
  }

  // After an error or a follow-up question, focus goes to it (and a screen reader reads it).
  function initialFocus() {
    var form = document.getElementById("page-form") || document.getElementById("review-form");
    var target = document.querySelector("main [aria-invalid=true]");
    if (!target && form && form.dataset.focus) {
      var element = document.getElementById(form.dataset.focus);
      target = element && element.tagName === "FIELDSET"
        ? element.querySelector("input:not([type=hidden]), [role=slider], select, textarea") || element : element;
    }
    if (target) { target.focus(); }
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
  var page = pageForm ? autosave(pageForm) : null;
  document.querySelectorAll("form").forEach(oneSubmit);
  idleLock(page);
  lockWhenDone();
  initialFocus();
})();
