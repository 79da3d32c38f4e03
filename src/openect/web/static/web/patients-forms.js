/* OpenECT patient forms: move the keyboard focus to the error summary after a failed save. */
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
}());
