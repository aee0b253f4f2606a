// Conveniences only: every page works without this script.
(function () {
  "use strict";

  // An error summary takes focus when the page loads, so screen readers announce it.
  function focusErrorSummary() {
    var summary = document.querySelector("[data-focus-on-load]");
    if (summary) { summary.focus(); }
  }

  // A form submits once: a double click or an impatient second press sends nothing more.
  function guardDoubleSubmit() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement)) { return; }
      if (form.dataset.submitted === "true") { event.preventDefault(); return; }
      form.dataset.submitted = "true";
      // Disabled after the browser has read the form (a disabled button sends no value),
      // so the pressed button shows that nothing more will happen.
      window.setTimeout(function () {
        form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (b) {
          b.disabled = true;
        });
      }, 0);
      window.setTimeout(function () { release(form); }, 5000);
    });
    // Back to a page from the history cache: its forms can be used again.
    window.addEventListener("pageshow", function () {
      document.querySelectorAll("form[data-submitted]").forEach(release);
    });
  }

  function release(form) {
    delete form.dataset.submitted;
    form.querySelectorAll("button[disabled]").forEach(function (b) { b.disabled = false; });
  }

  // Controls marked data-autosubmit (a location switcher) submit their form on change.
  function autoSubmit() {
    document.addEventListener("change", function (event) {
      var control = event.target;
      if (control instanceof HTMLElement && control.hasAttribute("data-autosubmit") && control.form) {
        control.form.requestSubmit();
      }
    });
  }

  // A button marked data-copy="<input id>" copies that field's text (a feed link) and says
  // so in the element named by data-copy-status. Without the script the field is selectable.
  function copyButtons() {
    var buttons = document.querySelectorAll("button[data-copy]");
    Array.prototype.forEach.call(buttons, function (button) {
      var field = document.getElementById(button.getAttribute("data-copy"));
      var status = document.getElementById(button.getAttribute("data-copy-status") || "");
      if (!field) { return; }
      button.hidden = false;
      button.addEventListener("click", function () {
        function say(text) { if (status) { status.textContent = text; } }
        field.focus();
        field.select();
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(field.value).then(
            function () { say("Copied. Paste it into your calendar app."); },
            function () { say("Press Ctrl+C (or Cmd+C) to copy the selected link."); }
          );
        } else {
          say("Press Ctrl+C (or Cmd+C) to copy the selected link.");
        }
      });
    });
  }

  function start() {
    document.documentElement.classList.add("js");
    focusErrorSummary();
    guardDoubleSubmit();
    autoSubmit();
    copyButtons();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
