/* Staff set the VAS length once per tablet by matching the line to 100 mm on a ruler. */
(function () {
  "use strict";
  var CSS_PX_PER_MM = 96 / 25.4;
  var line = document.getElementById("calibration-line");
  var readout = document.getElementById("calibration-value");
  var status = document.getElementById("calibration-status");
  var stored = parseFloat(localStorage.getItem("proapp.pxPerMm"));
  var pxPerMm = stored > 0 ? stored : CSS_PX_PER_MM;
  status.textContent = stored > 0 ? status.dataset.saved : status.dataset.none;

  function draw() {
    line.style.width = (100 * pxPerMm) + "px";
    readout.textContent = pxPerMm.toFixed(3);
  }
  document.querySelectorAll("[data-adjust]").forEach(function (button) {
    button.addEventListener("click", function () {
      // Lengthening the line by d mm of the current scale: new px/mm = px/mm * (100 + d) / 100.
      pxPerMm = Math.max(1, pxPerMm * (100 + parseFloat(button.dataset.adjust)) / 100);
      draw();
    });
  });
  document.getElementById("calibration-reset").addEventListener("click", function () {
    pxPerMm = CSS_PX_PER_MM; localStorage.removeItem("proapp.pxPerMm");
    status.textContent = status.dataset.none; draw();
  });
  document.getElementById("calibration-save").addEventListener("click", function () {
    localStorage.setItem("proapp.pxPerMm", String(pxPerMm));
    status.textContent = status.dataset.saved;
  });
  draw();
})();
