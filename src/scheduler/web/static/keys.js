// Keyboard shortcuts of the desk pages, listed in the help dialog (templates/_shortcuts.html)
// that "?" and the footer's button open. Single keys, so (WCAG 2.1.4) they can be turned off
// in that dialog, remembered in this browser; they never act while typing in a field, with
// Ctrl, Alt or Cmd held, or while a dialog (the booking panel, the help) is open. Every
// shortcut does what a link on the page does; without this script nothing changes.
(function () {
  "use strict";

  var STORE = "scheduler.shortcuts";
  var help = document.getElementById("shortcuts");
  var toggle = document.getElementById("shortcuts-on");
  var openButton = document.querySelector("[data-shortcuts-open]");
  if (!help || typeof help.showModal !== "function") { return; }

  function enabled() {
    try { return window.localStorage.getItem(STORE) !== "off"; } catch (e) { return true; }
  }

  function remember(on) {
    try {
      if (on) { window.localStorage.removeItem(STORE); } else { window.localStorage.setItem(STORE, "off"); }
    } catch (e) { /* private mode: the choice lasts for this page */ }
  }

  function typing(target) {
    if (!(target instanceof Element)) { return false; }
    return target.isContentEditable || target.closest("input, textarea, select, [contenteditable]") !== null;
  }

  function openHelp() {
    toggle.checked = enabled();
    if (!help.open) { help.showModal(); }
  }

  // "/": the patient search; on its own page, straight into the field.
  function go(href) {
    var url = new URL(href, window.location.href);
    if (url.pathname === window.location.pathname && url.hash) {
      var field = document.getElementById(url.hash.slice(1));
      if (field) { field.focus(); return; }
    }
    window.location.assign(url.href);
  }

  function act(key) {
    if (key === "?") { openHelp(); return true; }
    // CSS.escape: a key such as " or \ would not be a valid selector as typed.
    var wanted = '[data-key="' + CSS.escape(key) + '"]';
    var row = help.querySelector("tr" + wanted);
    if (!row) { return false; }
    var link = document.querySelector("a" + wanted);
    if (link) { window.location.assign(link.href); return true; }
    if (row.dataset.href) { go(row.dataset.href); return true; }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.repeat || event.isComposing) { return; }
    if (event.ctrlKey || event.altKey || event.metaKey || event.key.length !== 1) { return; }
    if (!enabled() || typing(event.target) || document.querySelector("dialog[open]")) { return; }
    if (act(event.key)) { event.preventDefault(); }
  });

  toggle.addEventListener("change", function () { remember(toggle.checked); });
  help.querySelector("[data-shortcuts-close]").addEventListener("click", function () { help.close(); });
  // A click outside the dialog (on its backdrop) closes it.
  help.addEventListener("click", function (event) {
    var box = help.getBoundingClientRect();
    if (event.target === help && (event.clientX < box.left || event.clientX > box.right ||
        event.clientY < box.top || event.clientY > box.bottom)) {
      help.close();
    }
  });
  if (openButton) {
    openButton.hidden = false;
    openButton.addEventListener("click", openHelp);
  }

  // Arrived by "/" from another page (/admin/patients#field-q): the search field has focus.
  if (window.location.hash) {
    var target = document.getElementById(window.location.hash.slice(1));
    if (target && target.matches("input, textarea, select")) { target.focus(); }
  }
})();
