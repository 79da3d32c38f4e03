/* The body site picker of the lesion form (templates/web/patients/_site_picker.html):
 * a tap, a click or Enter/Space on an area of the body map chooses that body site in the
 * form's list (figure[data-site-picker] names the select) and says which in the caption. */
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll("figure[data-site-picker]"), function (figure) {
    var select = document.getElementById(figure.getAttribute("data-site-picker"));
    var said = figure.querySelector("[data-site-picked]");
    if (!select) { return; }
    function mark() {
      Array.prototype.forEach.call(figure.querySelectorAll(".bm-pick"), function (area) {
        area.classList.toggle("picked", area.getAttribute("data-site") === select.value);
      });
    }
    function pick(area) {
      select.value = area.getAttribute("data-site");
      select.dispatchEvent(new Event("change", {bubbles: true}));
      mark();
      if (said) { said.textContent = "Body site: " + area.getAttribute("aria-label") + "."; }
    }
    Array.prototype.forEach.call(figure.querySelectorAll(".bm-pick"), function (area) {
      area.addEventListener("click", function () { pick(area); });
      area.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); pick(area); }
      });
    });
    select.addEventListener("change", mark);
    mark();
  });
}());
