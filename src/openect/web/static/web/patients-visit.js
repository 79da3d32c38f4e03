/* OpenECT follow-up visit: each lesion's response (RECIST 1.1 and WHO) derived live.

   The form carries data-preview-url (the API's "/api/lesions/__lesion__/response-preview").
   As a row's diameters or the visit date change, the API is asked (GET, the page's
   session cookie) for the categories of the candidate measurement (nothing is saved);
   the answer goes to the row's <output>. Where the criteria differ, "Check responses"
   (a submit that saves nothing) says why. Without JavaScript the same button derives
   every row on the server. */
(function () {
  "use strict";
  var form = document.getElementById("visit-form");
  if (!form || !window.fetch || !window.URLSearchParams) { return; }
  var template = form.getAttribute("data-preview-url");
  var date = form.querySelector("[name=assessment_date]");

  function clear(out) { while (out.firstChild) { out.removeChild(out.firstChild); } }
  function say(out, message) {
    clear(out);
    var span = document.createElement("span");
    span.className = "muted";
    span.textContent = message;
    out.appendChild(span);
  }
  function badge(name, category) {
    var wrap = document.createElement("span");
    wrap.className = "vi-crit";
    wrap.appendChild(document.createTextNode(name + " "));
    var span = document.createElement("span");
    span.className = "badge " + (category || "NE");
    span.textContent = category || "—";
    wrap.appendChild(span);
    return wrap;
  }
  function stable(category) { return category === "SD" || category === "NC"; }

  function rowOf(fieldset) {
    var prefix = fieldset.id.replace(/^row-/, "");
    return {
      lesion: fieldset.getAttribute("data-lesion"),
      longest: document.getElementById("id_" + prefix + "-longest_diameter_mm"),
      perpendicular: document.getElementById("id_" + prefix + "-perpendicular_diameter_mm"),
      out: document.getElementById("response-" + prefix),
      timer: null,
      sequence: 0
    };
  }

  function update(row) {
    var longest = row.longest.value.trim();
    if (!longest || !date || !date.value) {
      say(row.out, "Response: enter the longest diameter.");
      return;
    }
    var params = new URLSearchParams();
    params.set("longest_diameter_mm", longest);
    params.set("assessment_date", date.value);
    var perpendicular = row.perpendicular.value.trim();
    if (perpendicular) { params.set("perpendicular_diameter_mm", perpendicular); }
    var url = template.replace("__lesion__", encodeURIComponent(row.lesion)) + "?" + params.toString();
    var mine = ++row.sequence;
    row.out.setAttribute("aria-busy", "true");
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (result) {
        if (mine !== row.sequence) { return; }
        var body = result.body || {};
        if (!result.ok) {
          var detail = Array.isArray(body.detail) ? body.detail.map(function (p) { return p.msg; }).join("; ") : "";
          say(row.out, "No response yet" + (detail ? ": " + detail : "."));
          return;
        }
        if (body.status !== "categorised") { say(row.out, body.message || ""); return; }
        clear(row.out);
        var recist = (body.criteria.recist || {}).category;
        var who = (body.criteria.who || {}).category;
        row.out.appendChild(badge("RECIST", recist));
        row.out.appendChild(badge("WHO", who));
        if (recist !== who && !(stable(recist) && stable(who))) {
          var why = document.createElement("span");
          why.className = "vi-note";
          why.textContent = "The criteria differ: \u201cCheck responses\u201d says why.";
          row.out.appendChild(why);
        }
      })
      .catch(function () {
        if (mine === row.sequence) { say(row.out, "No connection: the response is derived when saved."); }
      })
      .then(function () { if (mine === row.sequence) { row.out.removeAttribute("aria-busy"); } });
  }

  function schedule(row) {
    window.clearTimeout(row.timer);
    row.timer = window.setTimeout(function () { update(row); }, 300);
  }

  var rows = Array.prototype.map.call(form.querySelectorAll("fieldset.vi-row"), rowOf);
  rows.forEach(function (row) {
    if (!row.longest || !row.perpendicular || !row.out) { return; }
    [row.longest, row.perpendicular].forEach(function (input) {
      input.addEventListener("input", function () { schedule(row); });
    });
  });
  if (date) {
    date.addEventListener("change", function () {
      rows.forEach(function (row) { if (row.longest && row.longest.value) { schedule(row); } });
    });
  }
}());
