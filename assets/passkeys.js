// Passkeys (WebAuthn) in the browser: the server's JSON options in, the browser's answer out as
// JSON (base64url for every byte string), as py_webauthn reads it. Called by the pages through
// rx.call_script; every function resolves (never rejects) so the page's callback always runs:
// with the answer, or with "error:<reason>" (cancelled, unsupported, failed).
(function () {
  if (window.kcPasskeys) return;

  function toBytes(text) {
    var b64 = String(text).replace(/-/g, '+').replace(/_/g, '/');
    while (b64.length % 4) b64 += '=';
    var raw = atob(b64);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out.buffer;
  }

  function toText(buffer) {
    if (!buffer) return null;
    var bytes = new Uint8Array(buffer);
    var raw = '';
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function descriptors(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: toBytes(c.id) }); });
  }

  function answer(credential) {
    var r = credential.response;
    var response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      if (r.getTransports) response.transports = r.getTransports();
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      response.userHandle = toText(r.userHandle);
    }
    return JSON.stringify({
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: response,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
    });
  }

  function reason(error) {
    var name = (error && error.name) || 'Error';
    if (name === 'NotAllowedError' || name === 'AbortError') return 'error:cancelled';
    if (name === 'InvalidStateError') return 'error:exists';
    return 'error:failed';
  }

  function supported() {
    return !!(window.PublicKeyCredential && navigator.credentials);
  }

  // navigator.credentials.create() with the server's registration options.
  function create(optionsJson) {
    if (!supported()) return Promise.resolve('error:unsupported');
    try {
      var o = JSON.parse(optionsJson);
      o.challenge = toBytes(o.challenge);
      o.user = Object.assign({}, o.user, { id: toBytes(o.user.id) });
      o.excludeCredentials = descriptors(o.excludeCredentials);
      return navigator.credentials.create({ publicKey: o }).then(answer, reason);
    } catch (e) {
      return Promise.resolve('error:failed');
    }
  }

  // navigator.credentials.get() with the server's authentication options.
  function get(optionsJson) {
    if (!supported()) return Promise.resolve('error:unsupported');
    try {
      var o = JSON.parse(optionsJson);
      o.challenge = toBytes(o.challenge);
      o.allowCredentials = descriptors(o.allowCredentials);
      return navigator.credentials.get({ publicKey: o }).then(answer, reason);
    } catch (e) {
      return Promise.resolve('error:failed');
    }
  }

  // The sign-in page: ask the form's options URL (data-options) for a challenge, let the browser
  // sign it, put the answer in the form's `credential` field and post the form (a full page load,
  // like the password form). Resolves "" when posted, else "error:<reason>".
  function signIn(formId) {
    var form = document.getElementById(formId);
    if (!form) return Promise.resolve('error:failed');
    if (!supported()) return Promise.resolve('error:unsupported');
    var body = new URLSearchParams({ purpose: form.getAttribute('data-purpose') || 'sign_in' });
    return fetch(form.getAttribute('data-options'), { method: 'POST', body: body, credentials: 'include' })
      .then(function (response) {
        if (response.status === 409) return 'error:expired';
        if (!response.ok) return 'error:failed';
        return response.text().then(get);
      }, function () { return 'error:failed'; })
      .then(function (result) {
        if (String(result).indexOf('error:') === 0) return result;
        form.querySelector('input[name="credential"]').value = result;
        form.submit();
        return '';
      });
  }

  window.kcPasskeys = { create: create, get: get, signIn: signIn, supported: supported };
  document.documentElement.setAttribute('data-passkeys', 'ready');
})();
