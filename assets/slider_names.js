// Radix Themes' slider renders its thumb (role="slider", the element that takes focus) without a
// name, and passes no prop through to it: screen readers announce "slider" only (axe:
// aria-input-field-name). Give every thumb its slider's aria-label, now and as dialogs render them.
(function () {
  function name(root) {
    root.querySelectorAll(".rt-SliderRoot[aria-label]").forEach(function (slider) {
      slider.querySelectorAll('[role="slider"]').forEach(function (thumb) {
        if (!thumb.getAttribute("aria-label")) {
          thumb.setAttribute("aria-label", slider.getAttribute("aria-label"));
        }
      });
    });
  }
  function start() {
    name(document);
    new MutationObserver(function () {
      name(document);
    }).observe(document.body, { childList: true, subtree: true });
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
