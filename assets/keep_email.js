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
    // The invitation and where to return ride in hidden fields the page's state fills in; a form
    // sent before the page has loaded (a quick person, a busy server) takes them from the address,
    // or the account would be made without joining, or the sign-in would forget the invitation it
    // came from. The server checks both either way (the token; `next` only as a local path).
    ['invitation', 'next'].forEach(function (name) {
      var hidden = event.target.querySelector('input[type=hidden][name=' + name + ']');
      if (!hidden || hidden.value) return;
      try {
        hidden.value = (new URLSearchParams(window.location.search).get(name) || '').slice(0, 1000);
      } catch (e) { /* an old browser: the page's own value, as before */ }
    });
    try { sessionStorage.setItem(KEY, String(field.value).slice(0, 254)); } catch (e) { /* storage off */ }
  }, true);
  // Called by the page's on_load: restore after a failed attempt, and forget the email either way.
  // The page may still be (re)mounting, on a slow device for seconds, so the value is re-applied
  // whenever the page's DOM changes and the field is empty, for up to a minute, until the user
  // types in it. (A fixed three-second retry lost the email on a busy machine.)
  window.kcRestoreEmail = function (fieldId, failed) {
    var saved = null;
    try { saved = sessionStorage.getItem(KEY); sessionStorage.removeItem(KEY); } catch (e) { return; }
    if (!failed || !saved) return;
    var focused = false;
    var observer = new MutationObserver(function () { apply(); });
    var typed = function (event) {
      if (event.target && event.target.id === fieldId && event.isTrusted) stop();
    };
    var stop = function () {
      observer.disconnect();
      document.removeEventListener('input', typed, true);
    };
    document.addEventListener('input', typed, true);
    var apply = function () {
      var field = document.getElementById(fieldId);
      if (field && !field.value) {
        field.value = saved;
        var password = field.form && field.form.querySelector('input[type=password]');
        if (password && !focused) { password.focus(); focused = true; }
      }
    };
    observer.observe(document.body, { childList: true, subtree: true });
    setTimeout(stop, 60000);
    apply();
  };
})();
