// The sign-in and sign-up forms are native posts (the password never enters Reflex state). When
// the backend sends the browser back with ?error=CODE, the email the user typed is put back from
// this tab's sessionStorage: it never travels in a URL and is never rendered as HTML (it is only
// assigned to the input's value). The password is never stored.
(function () {
  if (window.__keepEmail) return;
  window.__keepEmail = true;
  document.documentElement.setAttribute('data-keep-email', 'ready');
  var KEY = 'kc.email';
  document.addEventListener('submit', function (event) {
    var field = event.target.querySelector && event.target.querySelector('#sign-in-email, #sign-up-email');
    if (!field) return;
    try { sessionStorage.setItem(KEY, String(field.value).slice(0, 254)); } catch (e) { /* storage off */ }
  }, true);
  // Called by the page's on_load: restore after a failed attempt, and forget the email either way.
  // The page may still be (re)mounting, so the value is re-applied for a short while until the
  // field holds it, unless the user has started typing in it.
  window.kcRestoreEmail = function (fieldId, failed) {
    var saved = null;
    try { saved = sessionStorage.getItem(KEY); sessionStorage.removeItem(KEY); } catch (e) { return; }
    if (!failed || !saved) return;
    var typed = false, focused = false, tries = 0;
    document.addEventListener('input', function (event) {
      if (event.target && event.target.id === fieldId && event.isTrusted) typed = true;
    }, true);
    var apply = function () {
      var field = document.getElementById(fieldId);
      if (field && !typed && !field.value) {
        field.value = saved;
        var password = field.form && field.form.querySelector('input[type=password]');
        if (password && !focused) { password.focus(); focused = true; }
      }
      if (++tries < 30) setTimeout(apply, 100);
    };
    apply();
  };
})();
