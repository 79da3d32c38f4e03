/* Printable documents: the "Print" button opens the browser's print dialogue (hidden
 * without JavaScript; the browser's own print command works the same). */
(function () {
  "use strict";
  var buttons = document.querySelectorAll("[data-print]");
  Array.prototype.forEach.call(buttons, function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
}());
