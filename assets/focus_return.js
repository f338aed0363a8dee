// Dialogs opened from the page (not from a Radix trigger) return focus to the control that opened
// them when they close, as a keyboard user expects (WAI-ARIA dialog pattern). One listener for all.
(function () {
  if (window.__focusReturn) return;
  window.__focusReturn = true;
  var opener = null;
  var dialogOpen = false;
  var inDialog = function (el) { return el.closest('[role=dialog],[role=alertdialog]'); };
  document.addEventListener('click', function (event) {
    var control = event.target.closest && event.target.closest('button, a, [role=button]');
    if (control && !inDialog(control)) opener = control;
    // A choice in a row's "…" menu (a Radix dropdown) that opens a dialog: focus returns to the
    // "…" button that opened the menu (the menu item itself is gone by then).
    var item = event.target.closest && event.target.closest('[role=menuitem]');
    var menu = item && item.closest('[role=menu]');
    var trigger = menu && menu.id && document.querySelector('[aria-controls="' + menu.id + '"]');
    if (trigger) opener = trigger;
  }, true);
  var lost = function () { var a = document.activeElement; return !a || a === document.body; };
  var watch = function () {
    var now = !!document.querySelector('[role=dialog],[role=alertdialog]');
    if (dialogOpen && !now && opener) {
      var target = opener;
      setTimeout(function () { if (target.isConnected && lost()) target.focus(); }, 0);
    }
    dialogOpen = now;
  };
  var start = function () { new MutationObserver(watch).observe(document.body, { childList: true, subtree: true }); };
  if (document.body) start(); else document.addEventListener('DOMContentLoaded', start);
})();

// The skip link moves keyboard focus to the page's main content itself: left to the browser, the
// client-side router takes the fragment link as a navigation and focus stays on the link.
(function () {
  if (window.__skipLink) return;
  window.__skipLink = true;
  document.addEventListener('click', function (event) {
    var link = event.target.closest && event.target.closest('a.skip-link');
    if (!link) return;
    var main = document.getElementById('main-content');
    if (!main) return;
    event.preventDefault();
    event.stopPropagation();
    main.focus();
  }, true);
})();

// Escape closes the phone's navigation menu and puts focus back on its menu button.
(function () {
  if (window.__navEscape) return;
  window.__navEscape = true;
  document.addEventListener('keydown', function (event) {
    if (event.key !== 'Escape' || event.defaultPrevented) return;
    if (document.querySelector('[role=dialog],[role=alertdialog],[role=menu],[role=listbox]')) return;
    var toggle = document.getElementById('nav-toggle');
    if (!toggle || toggle.getAttribute('aria-expanded') !== 'true') return;
    toggle.click();
    toggle.focus();
  });
})();
