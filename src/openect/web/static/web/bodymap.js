/* OpenECT body map: a lesion's table row and its circle highlight each other; a click on a
   row opens the lesion (the row's link stays the keyboard way in). */
(function () {
  "use strict";
  var table = document.getElementById("lesion-table");
  if (!table) { return; }
  function circles(id) {
    return document.querySelectorAll('.bm-lesion[data-lesion="' + CSS.escape(id) + '"]');
  }
  function mark(id, on) {
    circles(id).forEach(function (c) { c.classList.toggle("bm-active", on); });
    var row = table.querySelector('tr[data-lesion="' + CSS.escape(id) + '"]');
    if (row) { row.classList.toggle("bm-active", on); }
  }
  table.querySelectorAll("tbody tr[data-href]").forEach(function (row) {
    var id = row.getAttribute("data-lesion");
    row.addEventListener("click", function (event) {
      if (event.target.closest("a")) { return; }
      window.location.href = row.getAttribute("data-href");
    });
    row.addEventListener("mouseenter", function () { mark(id, true); });
    row.addEventListener("mouseleave", function () { mark(id, false); });
    row.addEventListener("focusin", function () { mark(id, true); });
    row.addEventListener("focusout", function () { mark(id, false); });
  });
  document.querySelectorAll(".bm-link[data-lesion]").forEach(function (link) {
    var id = link.getAttribute("data-lesion");
    link.addEventListener("mouseenter", function () { mark(id, true); });
    link.addEventListener("mouseleave", function () { mark(id, false); });
  });
}());
