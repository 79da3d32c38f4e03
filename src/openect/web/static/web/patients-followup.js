/* OpenECT follow-up form: the response (RECIST and WHO) derived live from the measurement.

   The form carries data-preview-url (the API's "/api/lesions/__lesion__/response-preview")
   and, when an existing assessment is changed, data-editing (its id). As the lesion, date or
   diameters change, the API is asked (GET, with the page's session cookie) for the category
   of the candidate measurement (nothing is saved) and the answer is shown in the
   #response-preview live region; invalid values come back as a 422 whose "detail" names
   each field ({"loc": ["query", NAME], "msg": ...}). The suggested assessment id follows
   the chosen lesion until it is edited by hand. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-preview-url]");
  var out = document.getElementById("response-preview");
  if (!form || !out || !window.fetch) { return; }
  var template = form.getAttribute("data-preview-url");
  var editing = form.getAttribute("data-editing") || "";
  var watched = ["lesion_id", "assessment_date", "longest_diameter_mm", "perpendicular_diameter_mm"];
  var timer = null;
  var sequence = 0;

  var nextIds = {};
  var script = document.getElementById("next-ids");
  if (script) {
    try { nextIds = JSON.parse(script.textContent) || {}; } catch (e) { nextIds = {}; }
  }

  function field(name) { return form.elements.namedItem(name); }
  function value(name) {
    var element = field(name);
    return element && element.value ? String(element.value).trim() : "";
  }

  function clear() { while (out.firstChild) { out.removeChild(out.firstChild); } }
  function text(message) { clear(); out.appendChild(document.createTextNode(message)); }

  function badge(category) {
    var span = document.createElement("span");
    span.className = "badge " + (category || "NE");
    span.textContent = category || "—";
    return span;
  }

  function percent(value) {
    if (value === null || value === undefined) { return ""; }
    return (value > 0 ? "+" : "") + value.toFixed(0) + " %";
  }

  function line(name, result) {
    var item = document.createElement("li");
    var label = document.createElement("span");
    label.className = "pt-preview-name";
    label.textContent = (name === "recist" ? "RECIST" : "WHO") + ": ";
    item.appendChild(label);
    item.appendChild(badge(result.category));
    var details = [];
    if (result.change_from_reference_pct !== null && result.change_from_reference_pct !== undefined) {
      details.push(percent(result.change_from_reference_pct) + " vs reference");
    }
    if (result.change_from_nadir_pct !== null && result.change_from_nadir_pct !== undefined) {
      details.push(percent(result.change_from_nadir_pct) + " vs nadir");
    }
    if (details.length) {
      item.appendChild(document.createTextNode(" " + details.join(", ")));
    }
    item.title = result.title;
    return item;
  }

  function show(body) {
    clear();
    var note = document.createElement("p");
    note.textContent = body.message;
    out.appendChild(note);
    if (body.status === "categorised") {
      var list = document.createElement("ul");
      list.className = "pt-preview-list";
      ["recist", "who"].forEach(function (name) {
        if (body.criteria && body.criteria[name]) { list.appendChild(line(name, body.criteria[name])); }
      });
      out.appendChild(list);
      var override = value("override_response");
      if (override) {
        var warn = document.createElement("p");
        warn.className = "warning";
        warn.textContent = "An override (" + override + ") will replace the derived category; it needs a reason.";
        out.appendChild(warn);
      }
    }
  }

  function problems(detail) {
    clear();
    var intro = document.createElement("p");
    intro.textContent = "No response yet:";
    out.appendChild(intro);
    var list = document.createElement("ul");
    detail.forEach(function (problem) {
      var loc = problem.loc || [];
      var name = loc.length ? String(loc[loc.length - 1]) : "";
      var item = document.createElement("li");
      var label = name ? form.querySelector('label[for="id_' + name + '"]') : null;
      var title = label ? label.textContent.replace(/[:*]\s*$/, "").trim() : name.replace(/_/g, " ");
      item.textContent = (title ? title + ": " : "") + problem.msg;
      list.appendChild(item);
    });
    out.appendChild(list);
  }

  function update() {
    var lesion = value("lesion_id");
    var longest = value("longest_diameter_mm");
    var date = value("assessment_date");
    if (!lesion || !longest || !date) {
      text("Enter the lesion, the date and the longest diameter: the response is derived here as you type.");
      return;
    }
    var params = new URLSearchParams();
    params.set("longest_diameter_mm", longest);
    params.set("assessment_date", date);
    var perpendicular = value("perpendicular_diameter_mm");
    if (perpendicular) { params.set("perpendicular_diameter_mm", perpendicular); }
    if (editing) { params.set("assessment_id", editing); }
    var url = template.replace("__lesion__", encodeURIComponent(lesion)) + "?" + params.toString();
    var mine = ++sequence;
    out.setAttribute("aria-busy", "true");
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (result) {
        if (mine !== sequence) { return; }
        if (result.ok) { show(result.body); }
        else if (result.body && Array.isArray(result.body.detail)) { problems(result.body.detail); }
        else { text("The response could not be derived."); }
      })
      .catch(function () {
        if (mine === sequence) { text("The response could not be derived (no connection); it is derived again when saved."); }
      })
      .then(function () { if (mine === sequence) { out.removeAttribute("aria-busy"); } });
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(update, 250);
  }

  var idField = field("assessment_id");
  var lastSuggestion = idField ? idField.value : "";
  function followLesion() {
    if (!idField || editing || idField.disabled) { return; }
    var suggestion = nextIds[value("lesion_id")];
    if (suggestion && (idField.value === "" || idField.value === lastSuggestion)) {
      idField.value = suggestion;
      lastSuggestion = suggestion;
    }
  }

  form.addEventListener("input", function (event) {
    if (watched.indexOf(event.target.name) >= 0) { schedule(); }
  });
  form.addEventListener("change", function (event) {
    if (event.target.name === "lesion_id") { followLesion(); }
    if (watched.indexOf(event.target.name) >= 0 || event.target.name === "override_response") { schedule(); }
  });
  if (value("longest_diameter_mm")) { update(); }
}());
