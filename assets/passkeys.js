// Passkeys (WebAuthn) for the second factor (issue 30). A form marked data-passkey="create"
// (register) or "get" (sign in) holds the CSRF token and an empty `credential`; its button asks
// the gateway for the ceremony's options (JSON, buffers in base64url), hands them to the
// browser, and posts the browser's answer in the form, so the outcome is an ordinary page.
// Same-origin file: the pages' policy forbids inline script.
(function () {
  'use strict';

  function toBytes(s) {
    var b64 = s.replace(/-/g, '+').replace(/_/g, '/');
    while (b64.length % 4) { b64 += '='; }
    var raw = atob(b64), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out.buffer;
  }

  function toText(buf) {
    var bytes = new Uint8Array(buf), s = '';
    for (var i = 0; i < bytes.length; i++) { s += String.fromCharCode(bytes[i]); }
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function decoded(options) {
    var pk = options.publicKey;
    pk.challenge = toBytes(pk.challenge);
    if (pk.user) { pk.user.id = toBytes(pk.user.id); }
    (pk.excludeCredentials || []).concat(pk.allowCredentials || []).forEach(function (c) {
      c.id = toBytes(c.id);
    });
    return { publicKey: pk };
  }

  function encoded(cred) {
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: toText(cred.rawId),
      type: cred.type,
      extensions: {},
      response: { clientDataJSON: toText(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toText(r.attestationObject);
    } else {
      out.response.authenticatorData = toText(r.authenticatorData);
      out.response.signature = toText(r.signature);
      out.response.userHandle = r.userHandle ? toText(r.userHandle) : null;
    }
    return out;
  }

  function start(form) {
    var error = form.querySelector('.passkey-error');
    var body = new URLSearchParams();
    body.set('csrf', form.elements.csrf.value);
    fetch(form.getAttribute('data-options'), {
      method: 'POST',
      body: body,
      credentials: 'same-origin',
      headers: { 'Accept': 'application/json' }
    }).then(function (r) {
      if (!r.ok) { throw new Error('the gateway gave no challenge (' + r.status + ')'); }
      return r.json();
    }).then(function (options) {
      return form.getAttribute('data-passkey') === 'create'
        ? navigator.credentials.create(decoded(options))
        : navigator.credentials.get(decoded(options));
    }).then(function (cred) {
      form.elements.credential.value = JSON.stringify(encoded(cred));
      form.submit();
    }).catch(function (e) {
      error.textContent = 'No passkey answered: ' + (e && e.message ? e.message : e);
      error.hidden = false;
    });
  }

  document.querySelectorAll('form[data-passkey]').forEach(function (form) {
    var button = form.querySelector('button');
    button.hidden = !window.PublicKeyCredential;
    button.addEventListener('click', function () { start(form); });
  });
})();
