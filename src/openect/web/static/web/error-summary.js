/* A refused form lists its problems first (#error-summary, each linked to its field):
 * the focus moves there, so that the page does not reload silently at its top. */
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
}());
