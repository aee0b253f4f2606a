// The weekly hours editor's convenience: "Add another range" adds an empty row to a day
// (without the script each day has one empty row; save, and another appears).
(function () {
  "use strict";
  var next = 100;

  function renameRow(row, oldKey, newKey, label) {
    row.querySelector('input[name="row"]').value = newKey;
    Array.prototype.forEach.call(row.querySelectorAll("[id], [for], [name], [aria-describedby]"), function (el) {
      ["id", "for", "name", "aria-describedby"].forEach(function (attr) {
        var value = el.getAttribute(attr);
        if (value) {
          el.setAttribute(attr, value.split(oldKey + "-").join(newKey + "-"));
        }
      });
    });
    Array.prototype.forEach.call(row.querySelectorAll(".field__error"), function (el) { el.remove(); });
    Array.prototype.forEach.call(row.querySelectorAll("input"), function (input) {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
      if (input.type === "text" || input.type === "date") { input.value = ""; }
    });
    Array.prototype.forEach.call(row.querySelectorAll(".field--error"), function (el) {
      el.classList.remove("field--error");
    });
    Array.prototype.forEach.call(row.querySelectorAll("label .visually-hidden"), function (span) {
      span.textContent = " (" + label + ")";
    });
  }

  function addRange(button) {
    var fieldset = button.closest("fieldset");
    var rows = fieldset.querySelectorAll(".range-row--new");
    var last = rows[rows.length - 1];
    if (!last) { return; }
    var oldKey = last.querySelector('input[name="row"]').value;
    var newKey = "n" + (next++);
    var copy = last.cloneNode(true);
    renameRow(copy, oldKey, newKey, button.getAttribute("data-add-range") + " new range " + (rows.length + 1));
    last.parentNode.insertBefore(copy, last.nextSibling);
    copy.querySelector("input[type=text]").focus();
  }

  function start() {
    // New keys follow the highest one on the page (rows kept from a refused save included).
    Array.prototype.forEach.call(document.querySelectorAll('input[name="row"]'), function (input) {
      var number = parseInt(input.value.slice(1), 10);
      if (input.value.charAt(0) === "n" && number >= next) { next = number + 1; }
    });
    Array.prototype.forEach.call(document.querySelectorAll("button[data-add-range]"), function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { addRange(button); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
