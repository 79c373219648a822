/* Staff set the VAS length once per tablet by matching the line to 100 mm on a ruler. */
(function () {
  "use strict";
  var CSS_PX_PER_MM = 96 / 25.4;
  var calibration = window.proappCalibration;
  var line = document.getElementById("calibration-line");
  var readout = document.getElementById("calibration-value");
  var pxPerMm = calibration.read().pxPerMm || CSS_PX_PER_MM;
  var format = new Intl.NumberFormat(readout.dataset.lang === "sv" ? "sv-SE" : "en-GB",
                                     { minimumFractionDigits: 1, maximumFractionDigits: 1, signDisplay: "exceptZero" });

  function draw() {
    line.style.width = (100 * pxPerMm) + "px";
    // How much longer (or shorter) than the browser's 100 mm the line is: the nurse's adjustment, in mm.
    readout.textContent = format.format(Math.round((pxPerMm / CSS_PX_PER_MM - 1) * 1000) / 10);
  }
  document.querySelectorAll("[data-adjust]").forEach(function (button) {
    button.addEventListener("click", function () {
      // Lengthening the line by d mm of the current scale: new px/mm = px/mm * (100 + d) / 100.
      pxPerMm = Math.max(1, pxPerMm * (100 + parseFloat(button.dataset.adjust)) / 100);
      draw();
    });
  });
  document.getElementById("calibration-reset").addEventListener("click", function () {
    pxPerMm = CSS_PX_PER_MM;
    localStorage.removeItem(calibration.KEY);
    localStorage.removeItem(calibration.DATE_KEY);
    calibration.show(); draw();
  });
  document.getElementById("calibration-save").addEventListener("click", function () {
    localStorage.setItem(calibration.KEY, String(pxPerMm));
    localStorage.setItem(calibration.DATE_KEY, new Date().toISOString());
    calibration.show();
  });
  draw();
})();
