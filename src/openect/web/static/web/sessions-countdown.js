/*
 * OpenECT session recording: live countdown of the pulse window, and checks before saving.
 *
 * Reads the window from #window-countdown:
 *   data-session-date (YYYY-MM-DD), data-bolus-end (HH:MM[:SS], empty if not yet known),
 *   data-window-start / data-window-end (minutes after the end of the bolus), data-rule.
 * Times are the ward's clock times, compared with this device's clock.
 *
 * Forms it helps (each posts to its own URL, whatever its action attribute says):
 *   the bolus form (/sessions/<id>/bolus/): "Bolus ended now" (button[data-set-now]) puts
 *   the clock time in and submits it; the application form (/sessions/<id>/applications/new/,
 *   form[data-window-check]): its time follows the clock until edited (input[data-default-now]),
 *   choosing a lesion fills in the planned settings (select[data-suggest], option data-*),
 *   and a time outside the window asks before saving.
 *
 * Accessibility: the visible clock (role="timer") updates every second but is not a live
 * region; #countdown-status (aria-live="polite") speaks only when the phase changes and at
 * 10, 5, 2 and 1 minute(s) before the window closes (and 1 minute before it opens).
 */
(function () {
  "use strict";

  var HALF_DAY_S = 12 * 3600;

  function parseClock(text) {
    var match = /^(\d{1,2}):(\d{2})(?::(\d{2}))?/.exec(text || "");
    if (!match) { return null; }
    return Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3] || 0);
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function clockText(date) {
    return pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
  }

  function mmss(seconds) {
    var s = Math.max(0, Math.round(seconds));
    return Math.floor(s / 60) + ":" + pad(s % 60);
  }

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  /* Minutes from the bolus end to a clock time (same rule as the server: a time more
     than 12 h before the bolus end is the next day). */
  function minutesAfterBolus(bolusSeconds, atSeconds) {
    var delta = atSeconds - bolusSeconds;
    if (delta < -HALF_DAY_S) { delta += 24 * 3600; }
    return delta / 60;
  }

  var root = document.getElementById("window-countdown");
  var windowInfo = null;
  if (root) {
    windowInfo = {
      date: root.getAttribute("data-session-date"),
      bolus: parseClock(root.getAttribute("data-bolus-end")),
      start: parseFloat(root.getAttribute("data-window-start")),
      end: parseFloat(root.getAttribute("data-window-end")),
      rule: root.getAttribute("data-rule") || ""
    };
  }

  /* ------------------------------------------------------------ countdown */
  function bolusDate(info) {
    var parts = (info.date || "").split("-");
    if (parts.length !== 3 || info.bolus === null) { return null; }
    var d = new Date(Number(parts[0]), Number(parts[1]) - 1, Number(parts[2]), 0, 0, 0);
    d.setSeconds(info.bolus);
    return d;
  }

  function startCountdown(info) {
    var clock = root.querySelector(".countdown-clock");
    var status = document.getElementById("countdown-status");
    var origin = bolusDate(info);
    if (!clock || !origin || isNaN(info.start) || isNaN(info.end)) { return; }
    var opens = new Date(origin.getTime() + info.start * 60000);
    var closes = new Date(origin.getTime() + info.end * 60000);
    var lastPhase = null;
    var lastMark = null;

    function announce(text) { if (status) { status.textContent = text; } }

    function tick() {
      var now = new Date();
      var phase, text, mark = null;
      var sinceBolus = (now - origin) / 1000;
      if (sinceBolus > HALF_DAY_S + info.end * 60) {
        phase = "closed";
        text = "Window closed (session of " + info.date + ", pulses were due " +
          clockText(opens) + "–" + clockText(closes) + ")";
      } else if (sinceBolus < -HALF_DAY_S) {
        phase = "later";
        text = "Session on " + info.date + ": the countdown starts on the day";
      } else if (now < opens) {
        var toOpen = (opens - now) / 1000;
        phase = "before";
        text = "Window opens in " + mmss(toOpen) + " (at " + clockText(opens) + ")";
        if (toOpen <= 60) { mark = "open-1"; }
      } else if (now <= closes) {
        var left = (closes - now) / 1000;
        var leftMin = Math.ceil(left / 60);
        phase = left <= 180 ? "closing" : "open";
        text = "Window open: " + leftMin + " min left (" + mmss(left) +
          ", closes at " + clockText(closes) + ")";
        [10, 5, 2, 1].forEach(function (m) { if (left <= m * 60) { mark = "left-" + m; } });
      } else {
        var ago = Math.floor((now - closes) / 60000);
        phase = "closed";
        text = "Window closed " + ago + " min ago (at " + clockText(closes) + ")";
      }
      clock.textContent = text;
      clock.setAttribute("data-phase", phase);
      // The sticky bar's copy (phone and tablet), not announced twice.
      Array.prototype.forEach.call(document.querySelectorAll(".bar-clock"), function (copy) {
        copy.textContent = text;
        copy.setAttribute("data-phase", phase);
      });
      var spokenPhase = phase === "closing" ? "open" : phase;
      if (spokenPhase !== lastPhase) {
        lastPhase = spokenPhase;
        lastMark = mark;
        if (phase === "open" || phase === "closing") {
          announce("Pulse window open: " + plural(Math.ceil((closes - now) / 60000), "minute") + " left.");
        } else if (phase === "before") {
          announce("Pulse window opens at " + clockText(opens) + ".");
        } else if (phase === "closed") {
          announce("Pulse window closed.");
        }
      } else if (mark !== null && mark !== lastMark) {
        lastMark = mark;
        if (mark === "open-1") {
          announce("Pulse window opens in 1 minute.");
        } else {
          var m = Number(mark.split("-")[1]);
          announce("Pulse window: " + plural(m, "minute") + " left.");
        }
      }
    }

    tick();
    window.setInterval(tick, 1000);
  }

  if (root && windowInfo && windowInfo.bolus !== null) { startCountdown(windowInfo); }

  /* ------------------------------------------------------------ field help on small screens */
  Array.prototype.forEach.call(document.querySelectorAll("button[data-toggle-help]"), function (button) {
    var form = document.getElementById(button.getAttribute("data-toggle-help"));
    if (!form) { return; }
    button.addEventListener("click", function () {
      var shown = form.classList.toggle("show-help");
      button.setAttribute("aria-expanded", shown ? "true" : "false");
      button.textContent = shown ? "Hide field help" : "Show field help";
    });
  });

  /* ------------------------------------------------------------ "now" for clock fields */
  function trackEdits(input) {
    ["input", "change"].forEach(function (name) {
      input.addEventListener(name, function () { input.setAttribute("data-edited", "1"); });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("input[data-default-now]"), function (input) {
    trackEdits(input);
    function refresh() {
      if (!input.hasAttribute("data-edited")) { input.value = clockText(new Date()); }
    }
    refresh();
    window.setInterval(refresh, 1000);
    if (input.form) { input.form.addEventListener("submit", refresh); }
  });

  Array.prototype.forEach.call(document.querySelectorAll("button[data-set-now]"), function (button) {
    button.addEventListener("click", function () {
      var input = document.getElementById(button.getAttribute("data-set-now"));
      if (!input) { return; }
      input.value = clockText(new Date());
      // With applications recorded, the change needs a reason: fill in, do not save.
      if (button.hasAttribute("data-no-submit")) {
        var reason = document.getElementById(button.getAttribute("data-no-submit"));
        if (reason) { reason.focus(); }
        return;
      }
      var form = input.form;
      if (form && form.requestSubmit) { form.requestSubmit(); } else if (form) { form.submit(); }
    });
  });

  /* ------------------------------------------------------------ planned settings per lesion */
  Array.prototype.forEach.call(document.querySelectorAll("select[data-suggest]"), function (select) {
    var form = select.form;
    if (!form) { return; }
    var targets = {
      electrode: form.querySelector("[name=electrode]"),
      voltage: form.querySelector("[name=voltage_v]"),
      pulses: form.querySelector("[name=pulses]"),
      frequency: form.querySelector("[name=frequency_hz]"),
      duration: form.querySelector("[name=pulse_duration_us]")
    };
    Object.keys(targets).forEach(function (key) { if (targets[key]) { trackEdits(targets[key]); } });
    var summary = document.getElementById("lesion-plan-summary");
    select.addEventListener("change", function () {
      var option = select.options[select.selectedIndex];
      if (summary) { summary.textContent = option ? (option.getAttribute("data-summary") || "") : ""; }
      if (!option) { return; }
      Object.keys(targets).forEach(function (key) {
        var input = targets[key];
        var value = option.getAttribute("data-" + key);
        if (input && value && (!input.hasAttribute("data-edited") || !input.value)) {
          input.value = value;
          input.removeAttribute("data-edited");
        }
      });
    });
  });

  /* ------------------------------------------------------------ check before saving */
  Array.prototype.forEach.call(document.querySelectorAll("form[data-window-check]"), function (form) {
    // The warning box and the buttons may sit outside the form (the sticky bar).
    var box = form.querySelector(".window-precheck") ||
      (form.id ? document.querySelector(".window-precheck[data-for='" + form.id + "']") : null);
    var buttons = Array.prototype.slice.call(form.querySelectorAll("button[type=submit]"));
    if (form.id) {
      buttons = buttons.concat(Array.prototype.slice.call(
        document.querySelectorAll("button[form='" + form.id + "']")));
    }
    var time = form.querySelector("[name=time]");
    // Intratumoural: each lesion's window runs from the end of its own injection.
    var injection = form.querySelector("[name=injection_end_time]");
    if (!time || !windowInfo || (windowInfo.bolus === null && !injection)) { return; }
    var confirmed = null;

    function label(button, confirming) {
      if (!button.hasAttribute("data-label")) { button.setAttribute("data-label", button.textContent); }
      button.textContent = confirming ? (button.getAttribute("data-confirm-label") || "Save anyway")
        : button.getAttribute("data-label");
    }

    function reset() {
      confirmed = null;
      if (box) { box.hidden = true; box.textContent = ""; }
      buttons.forEach(function (button) { label(button, false); });
    }
    time.addEventListener("input", reset);
    time.addEventListener("change", reset);
    if (injection) {
      injection.addEventListener("input", reset);
      injection.addEventListener("change", reset);
    }

    form.addEventListener("submit", function (event) {
      var at = parseClock(time.value);
      var origin = injection ? parseClock(injection.value) : null;
      var from = origin === null ? "the end of the bolus" : "the end of this lesion's injection";
      if (origin === null) { origin = windowInfo.bolus; }
      if (at === null || origin === null) { return; }
      var minutes = minutesAfterBolus(origin, at);
      var inside = minutes >= windowInfo.start && minutes <= windowInfo.end;
      if (inside || confirmed === time.value) { return; }
      event.preventDefault();
      // Keep the time the warning names: the field stops following the clock, so that
      // "Save anyway" saves exactly what the user saw and confirmed.
      time.setAttribute("data-edited", "1");
      confirmed = time.value;
      var side = minutes < windowInfo.start ? "before" : "after";
      if (box) {
        box.textContent = "The time " + time.value + " is " + minutes.toFixed(1) +
          " min after " + from + ": " + side + " the pulse window (" +
          windowInfo.start + "–" + windowInfo.end + " min, rule " + windowInfo.rule +
          "). Check the time, or save anyway: the application will be marked outside the window.";
        box.hidden = false;
        if (box.scrollIntoView) { box.scrollIntoView({block: "nearest"}); }
      }
      buttons.forEach(function (button) { label(button, true); });
    });
  });
}());
