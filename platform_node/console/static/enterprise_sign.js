// The enterprise's signing in the browser (WebCrypto Ed25519). The private key never leaves this browser:
// the key file (unencrypted PKCS#8 PEM, as `xyd enterprise init` writes it without a passphrase) is read
// here, imported as a NON-extractable CryptoKey and kept in this origin's IndexedDB until log-out; forms post
// only the signed bytes and the signature. Every signature is Ed25519 over `domain || 0x00 || payload`,
// the same bytes `consent.authorisation.signatures.sign` makes. No third-party code.
"use strict";
(function () {
  const DB = "xyd-enterprise", STORE = "keys", SLOT = "current";
  const LOGIN_DOMAIN = "xyd/enterprise/http-request/v1";
  const enc = new TextEncoder();

  function hex(bytes) { return Array.from(new Uint8Array(bytes), b => b.toString(16).padStart(2, "0")).join(""); }
  function b64(bytes) { let s = ""; new Uint8Array(bytes).forEach(b => { s += String.fromCharCode(b); }); return btoa(s); }
  function unb64(text) { const s = atob(text); const out = new Uint8Array(s.length); for (let i = 0; i < s.length; i++) { out[i] = s.charCodeAt(i); } return out; }
  function unb64url(text) { return unb64(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4)); }
  function concat(a, b) { const out = new Uint8Array(a.length + b.length); out.set(a, 0); out.set(b, a.length); return out; }

  function database() {
    return new Promise((resolve, reject) => {
      const open = indexedDB.open(DB, 1);
      open.onupgradeneeded = () => open.result.createObjectStore(STORE);
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
  }
  async function slot(mode, work) {
    const db = await database();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = work(tx.objectStore(STORE));
      tx.oncomplete = () => { db.close(); resolve(request ? request.result : undefined); };
      tx.onerror = () => { db.close(); reject(tx.error); };
    });
  }
  // Two kinds of kept keys: SLOT, a copy of the key file loaded at log-in (forgotten at log-out), and
  // "browser:<key id>", keys made here by rotation (generateKey, not exportable): this browser is their only
  // holder, so they stay until the enterprise rotates away from them.
  const stored = (name = SLOT) => slot("readonly", s => s.get(name));
  const keep = (entry, name = SLOT) => slot("readwrite", s => s.put(entry, name));
  const forget = () => slot("readwrite", s => s.delete(SLOT));
  const browserKeys = () => slot("readonly", s => s.getAll(IDBKeyRange.bound("browser:", "browser:\uffff")));

  // A PEM key file -> {key: non-extractable CryptoKey, keyId}. The key id is the platform's: the first 8
  // bytes of SHA-256 over the raw public key, in hex.
  async function importKeyFile(file) {
    const text = await file.text();
    if (text.includes("ENCRYPTED")) { throw new Error("encrypted"); }
    const match = /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/.exec(text);
    if (!match) { throw new Error("format"); }
    const der = unb64(match[1].replace(/\s+/g, ""));
    const loose = await crypto.subtle.importKey("pkcs8", der, { name: "Ed25519" }, true, ["sign"]);
    const jwk = await crypto.subtle.exportKey("jwk", loose);
    const keyId = hex((await crypto.subtle.digest("SHA-256", unb64url(jwk.x))).slice(0, 8));
    const key = await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", d: jwk.d, x: jwk.x },
                                              { name: "Ed25519" }, false, ["sign"]);
    return { key, keyId };
  }

  async function sign(key, domain, payload) {
    const message = concat(concat(enc.encode(domain), new Uint8Array([0])), payload);
    return new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key, message));
  }

  function say(box, text) { if (box) { box.textContent = text; box.hidden = !text; } }

  // ---- log-in: sign the log-in request (the API's request signature) over the page's one-time challenge ----
  // The request signature's canonical JSON: these keys in sorted order, ASCII values, no spaces.
  function requestPayload(digest, code, keyId, path, nonce, timestamp) {
    return enc.encode(JSON.stringify({ content_sha256: digest, credit_code: code, key_id: keyId, method: "POST",
                                       nonce: nonce, path: path, query: "", timestamp: timestamp }));
  }
  const login = document.getElementById("ent-login");
  if (login) {
    const loaded = performance.now();
    const serverTime = Number(login.dataset.serverTime);
    const problem = document.getElementById("ent-login-error");
    const fileInput = document.getElementById("key_file");
    async function signIn(key, keyId, fromFile) {
      const code = login.elements.credit_code.value.trim().toUpperCase();
      if (!code) { login.elements.credit_code.focus(); return; }
      const challenge = login.elements.csrf.value;
      const nonce = hex(crypto.getRandomValues(new Uint8Array(16)));
      const timestamp = Math.floor(serverTime + (performance.now() - loaded) / 1000);
      const digest = hex(await crypto.subtle.digest("SHA-256", enc.encode(challenge)));
      const signature = await sign(key, LOGIN_DOMAIN, requestPayload(digest, code, keyId, login.dataset.path, nonce, timestamp));
      if (fromFile) { await keep({ key: key, keyId: keyId, creditCode: code }); }
      login.elements.key_id.value = keyId;
      login.elements.timestamp.value = String(timestamp);
      login.elements.nonce.value = nonce;
      login.elements.signature.value = b64(signature);
      fileInput.value = "";  // the file input has no name and is never posted; cleared all the same
      HTMLFormElement.prototype.submit.call(login);
    }
    login.addEventListener("submit", async event => {
      event.preventDefault();
      try {
        if (!fileInput.files.length) { throw new Error("nofile"); }
        const { key, keyId } = await importKeyFile(fileInput.files[0]);
        await signIn(key, keyId, true);
      } catch (e) {
        say(problem, login.dataset["msg" + ({ encrypted: "Encrypted", format: "Format", nofile: "Nofile" }[e.message] || "Failed")]);
      }
    });
    // Keys made in this browser: one button each.
    browserKeys().then(entries => {
      const box = document.getElementById("ent-browser-keys");
      (entries || []).forEach(entry => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "secondary-button";
        button.textContent = login.dataset.msgBrowserKey.replace("{key_id}", entry.keyId);
        button.addEventListener("click", async () => {
          if (!login.elements.credit_code.value.trim()) { login.elements.credit_code.value = entry.creditCode; }
          try { await signIn(entry.key, entry.keyId, false); } catch (e) { say(problem, login.dataset.msgFailed); }
        });
        box.appendChild(button);
        box.hidden = false;
      });
    }).catch(() => {});
  }

  // ---- the key on signing pages: the one from log-in, else a key file loaded here ----
  const keyBox = document.getElementById("ent-key");
  async function currentKey() {
    if (!keyBox) { return null; }
    for (const name of [SLOT, "browser:" + keyBox.dataset.keyId]) {
      const entry = await stored(name);
      if (entry && entry.keyId === keyBox.dataset.keyId && entry.creditCode === keyBox.dataset.creditCode) { return entry; }
    }
    return null;
  }
  async function showKey() {
    if (!keyBox) { return; }
    const entry = await currentKey().catch(() => null);
    const state = document.getElementById("ent-key-state");
    say(state, entry ? keyBox.dataset.msgLoaded : keyBox.dataset.msgMissing);
    document.getElementById("ent-key-load").hidden = Boolean(entry);
  }
  if (keyBox) {
    const input = document.getElementById("ent-key-file");
    input.addEventListener("change", async () => {
      const state = document.getElementById("ent-key-state");
      try {
        const { key, keyId } = await importKeyFile(input.files[0]);
        input.value = "";
        if (keyId !== keyBox.dataset.keyId) { say(state, keyBox.dataset.msgWrong); return; }
        await keep({ key: key, keyId: keyId, creditCode: keyBox.dataset.creditCode });
        await showKey();
      } catch (e) {
        input.value = "";
        say(state, keyBox.dataset.msgWrong);
      }
    });
    showKey();
  }

  // What the bytes to sign must say, read from the page: the terms id, or the action and target, and always
  // this enterprise and this key. A platform that sent anything else gets no signature.
  function checkPayload(form, payload) {
    const content = JSON.parse(new TextDecoder().decode(payload));
    const want = form.dataset;
    if (want.expectTerms) {
      return content.terms && content.terms.id === want.expectTerms && content.key_id === keyBox.dataset.keyId &&
        content.terms.subject && content.terms.subject.credit_code === keyBox.dataset.creditCode;
    }
    if (want.expectAction) {
      return content.action === want.expectAction && content.target === want.expectTarget &&
        content.key_id === keyBox.dataset.keyId && content.credit_code === keyBox.dataset.creditCode;
    }
    if (want.expectDeclaration) {
      return content.key_id === keyBox.dataset.keyId && content.credit_code === keyBox.dataset.creditCode &&
        content.commitment && content.commitment.text === want.expectDeclaration;
    }
    return false;
  }

  document.querySelectorAll("form.sign-form").forEach(form => {
    const problem = form.querySelector(".sign-error");
    form.addEventListener("submit", async event => {
      event.preventDefault();
      say(problem, "");
      try {
        const entry = await currentKey();
        if (!entry) { say(problem, keyBox.dataset.msgMissing); return; }
        const body = new URLSearchParams(new FormData(form));
        const reply = await fetch(form.dataset.prepare, { method: "POST", body: body, credentials: "same-origin",
                                                          headers: { "Accept": "application/json" } });
        if (!reply.ok) {
          const page = new DOMParser().parseFromString(await reply.text(), "text/html");
          const shown = page.querySelector("main .error, main p");
          say(problem, (shown ? shown.textContent.trim() + " " : "") + "(" + reply.status + ")");
          return;
        }
        const prepared = await reply.json();
        const payload = unb64(prepared.payload);
        if (!checkPayload(form, payload)) { say(problem, keyBox.dataset.msgMismatch); return; }
        const signature = await sign(entry.key, prepared.domain, payload);
        form.elements.payload.value = prepared.payload;
        form.elements.signature.value = b64(signature);
        HTMLFormElement.prototype.submit.call(form);
      } catch (e) {
        say(problem, keyBox.dataset.msgFailed);
      }
    });
  });

  // ---- rotation to a key made here: the new key signs the ROTATE statement (possession), the current key
  // signs the rotation request (the API's request signature over the statement's digest) ----
  const rotate = document.getElementById("ent-rotate");
  if (rotate) {
    const problem = rotate.querySelector(".sign-error");
    rotate.addEventListener("submit", async event => {
      event.preventDefault();
      say(problem, "");
      try {
        const current = await currentKey();
        if (!current) { say(problem, keyBox.dataset.msgMissing); return; }
        const made = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
        const raw = new Uint8Array(await crypto.subtle.exportKey("raw", made.publicKey));
        const keyId = hex((await crypto.subtle.digest("SHA-256", raw)).slice(0, 8));
        rotate.elements.public_key.value = b64(raw);
        const reply = await fetch(rotate.dataset.prepare, { method: "POST", credentials: "same-origin",
          body: new URLSearchParams(new FormData(rotate)), headers: { "Accept": "application/json" } });
        if (!reply.ok) { say(problem, keyBox.dataset.msgFailed + " (" + reply.status + ")"); return; }
        const prepared = await reply.json();
        const statement = unb64(prepared.statement);
        const content = JSON.parse(new TextDecoder().decode(statement));
        if (content.purpose !== "ROTATE" || content.enterprise_key !== b64(raw) ||
            content.credit_code !== keyBox.dataset.creditCode) { say(problem, keyBox.dataset.msgMismatch); return; }
        const digest = hex(await crypto.subtle.digest("SHA-256", statement));
        if (digest !== prepared.content_sha256) { say(problem, keyBox.dataset.msgMismatch); return; }
        const nonce = hex(crypto.getRandomValues(new Uint8Array(16)));
        const possession = await sign(made.privateKey, prepared.possession_domain, statement);
        const request = await sign(current.key, prepared.request_domain,
          requestPayload(digest, keyBox.dataset.creditCode, current.keyId, prepared.path, nonce, prepared.server_time));
        await keep({ key: made.privateKey, keyId: keyId, creditCode: keyBox.dataset.creditCode }, "browser:" + keyId);
        rotate.elements.statement.value = prepared.statement;
        rotate.elements.key_signature.value = b64(possession);
        rotate.elements.key_id.value = current.keyId;
        rotate.elements.timestamp.value = String(prepared.server_time);
        rotate.elements.nonce.value = nonce;
        rotate.elements.request_signature.value = b64(request);
        await forget();  // the file key closes with this rotation
        HTMLFormElement.prototype.submit.call(rotate);
      } catch (e) {
        say(problem, keyBox.dataset.msgFailed);
      }
    });
  }

  // Log-out forgets the key file's copy (keys made here stay: they exist nowhere else).
  document.querySelectorAll("form[action='/console/logout']").forEach(form => {
    form.addEventListener("submit", async event => {
      event.preventDefault();
      try { await forget(); } catch (e) { /* nothing kept */ }
      HTMLFormElement.prototype.submit.call(form);
    });
  });
}());
