/* Staff pages: whether this tablet's VAS is calibrated (the tablet keeps its calibration, with the date). */
(function () {
  "use strict";
  var KEY = "proapp.pxPerMm", DATE_KEY = "proapp.calibratedAt";

  function read() {
    var pxPerMm = parseFloat(window.localStorage && localStorage.getItem(KEY));
    return { pxPerMm: pxPerMm > 0 ? pxPerMm : null, at: localStorage.getItem(DATE_KEY) };
  }

  // "kalibrerad 3 november 2026" / "not calibrated", in the page's language.
  function show() {
    var calibration = read();
    var lang = document.documentElement.lang === "sv" ? "sv-SE" : "en-GB";
    document.querySelectorAll("[data-calibration-status]").forEach(function (element) {
      var d = element.dataset;
      element.classList.toggle("calibrated", calibration.pxPerMm !== null);
      element.classList.toggle("not-calibrated", calibration.pxPerMm === null);
      if (calibration.pxPerMm === null) { element.textContent = d.uncalibrated; return; }
      var date = calibration.at ? new Date(calibration.at) : null;
      element.textContent = date && !isNaN(date)
        ? d.calibrated.replace("{date}", date.toLocaleDateString(lang, { day: "numeric", month: "long", year: "numeric" }))
        : d.calibratedUndated;
    });
  }

  window.proappCalibration = { KEY: KEY, DATE_KEY: DATE_KEY, read: read, show: show };
  show();
})();
