// The source-unit administrator's signer: the unit's approval key is read from the file the administrator picks,
// imported into WebCrypto (Ed25519) as a non-extractable key kept in this origin's IndexedDB until log-out, and
// used here, in the browser, to sign (1) each POST to the console exactly as the admin endpoint's JSON clients
// sign theirs (X-Xyd-Time, X-Xyd-Nonce, X-Xyd-Signature over METHOD, path, time, nonce and the body's SHA-256)
// and (2) an approval's terms, after checking they are the terms the approval id names. The key never leaves
// the browser. No third-party code, nothing loaded from elsewhere.
"use strict";
(function () {
  const ADMIN_DOMAIN = "xyd/governance/admin/v1";
  const APPROVAL_DOMAIN = "xyd/governance/approval/v1";
  const encoder = new TextEncoder();
  const texts = (document.getElementById("signer") || { dataset: {} }).dataset;
  const meta = document.querySelector('meta[name="xyd-key-id"]');
  const unitKeyId = meta ? meta.content : "";
  const statusBox = document.getElementById("sign-status");

  function say(text, bad) {
    if (!statusBox) { return; }
    statusBox.textContent = text || "";
    statusBox.className = bad ? "error" : "";
    statusBox.setAttribute("role", bad ? "alert" : "status");
  }

  function hex(bytes) {
    return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
  }
  function base64(bytes) {
    let text = "";
    new Uint8Array(bytes).forEach((b) => { text += String.fromCharCode(b); });
    return btoa(text);
  }
  function base64urlDecode(text) {
    const plain = text.replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(plain + "===".slice((plain.length + 3) % 4)), (c) => c.charCodeAt(0));
  }
  function join(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    parts.forEach((p) => { out.set(p, at); at += p.length; });
    return out;
  }
  async function sha256(bytes) { return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)); }

  // RFC 8785 for what approval terms hold (strings, integers, booleans, lists, objects with ASCII keys).
  function canonical(value) {
    if (Array.isArray(value)) { return "[" + value.map(canonical).join(",") + "]"; }
    if (value !== null && typeof value === "object") {
      return "{" + Object.keys(value).sort().map((k) => JSON.stringify(k) + ":" + canonical(value[k])).join(",") + "}";
    }
    return JSON.stringify(value);
  }

  // ---- the key: IndexedDB holds the non-extractable CryptoKey and its id ----------------------------------
  function database() {
    return new Promise((resolve, reject) => {
      const opening = indexedDB.open("xyd-source-admin", 1);
      opening.onupgradeneeded = () => opening.result.createObjectStore("keys");
      opening.onsuccess = () => resolve(opening.result);
      opening.onerror = () => reject(opening.error);
    });
  }
  async function keyStore(mode, act) {
    const db = await database();
    return new Promise((resolve, reject) => {
      const tx = db.transaction("keys", mode);
      const request = act(tx.objectStore("keys"));
      tx.oncomplete = () => { db.close(); resolve(request ? request.result : undefined); };
      tx.onerror = () => { db.close(); reject(tx.error); };
    });
  }
  const storedKey = () => keyStore("readonly", (s) => s.get("approval"));
  const keepKey = (record) => keyStore("readwrite", (s) => s.put(record, "approval"));
  const forgetKey = () => keyStore("readwrite", (s) => s.delete("approval"));

  // ---- an encrypted key file: PKCS#8 EncryptedPrivateKeyInfo, PBES2 with PBKDF2 and AES-CBC, as
  // `xyd approval keygen --passphrase-file` writes it (the Python `cryptography` package's best encryption) ----
  function der(bytes, at) {  // one DER element at `at`: its tag, where its content starts and ends
    const tag = bytes[at];
    let length = bytes[at + 1], start = at + 2;
    if (length & 0x80) {
      const count = length & 0x7f;
      length = 0;
      for (let i = 0; i < count; i++) { length = length * 256 + bytes[start + i]; }
      start += count;
    }
    if (start + length > bytes.length) { throw new Error("truncated"); }
    return { tag: tag, start: start, end: start + length, content: bytes.subarray(start, start + length) };
  }
  function children(bytes, element) {
    const found = [];
    for (let at = element.start; at < element.end;) { const child = der(bytes, at); found.push(child); at = child.end; }
    return found;
  }
  const OIDS = { "2a864886f70d01050d": "PBES2", "2a864886f70d01050c": "PBKDF2", "2a864886f70d0207": "SHA-1",
                 "2a864886f70d0209": "SHA-256", "2a864886f70d020b": "SHA-512", "608648016503040102": 128,
                 "608648016503040116": 192, "60864801650304012a": 256 };
  async function decryptPkcs8(bytes, passphrase) {
    const [algorithm, encrypted] = children(bytes, der(bytes, 0));
    const [scheme, params] = children(bytes, algorithm);
    if (OIDS[hex(scheme.content)] !== "PBES2") { throw new Error("not PBES2"); }
    const [kdf, cipher] = children(bytes, params);
    const [kdfOid, kdfParams] = children(bytes, kdf);
    if (OIDS[hex(kdfOid.content)] !== "PBKDF2") { throw new Error("not PBKDF2"); }
    const fields = children(bytes, kdfParams);
    const salt = fields[0].content;
    const iterations = fields[1].content.reduce((n, b) => n * 256 + b, 0);
    const prf = fields.find((f) => f.tag === 0x30);
    const hash = prf ? OIDS[hex(children(bytes, prf)[0].content)] : "SHA-1";
    const [cipherOid, iv] = children(bytes, cipher);
    const bits = OIDS[hex(cipherOid.content)];
    if (typeof bits !== "number" || typeof hash !== "string") { throw new Error("unsupported encryption"); }
    const base = await crypto.subtle.importKey("raw", encoder.encode(passphrase), "PBKDF2", false, ["deriveKey"]);
    const aes = await crypto.subtle.deriveKey({ name: "PBKDF2", salt: salt, iterations: iterations, hash: hash }, base,
                                              { name: "AES-CBC", length: bits }, false, ["decrypt"]);
    return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-CBC", iv: iv.content }, aes, encrypted.content));
  }

  async function importKeyFile(file, passphrase) {
    if (!window.crypto || !crypto.subtle) { throw new Error(texts.noWebcrypto); }
    const text = await file.text();
    const pem = /-----BEGIN (ENCRYPTED )?PRIVATE KEY-----([\s\S]+?)-----END (ENCRYPTED )?PRIVATE KEY-----/.exec(text);
    if (!pem) { throw new Error(texts.unreadable); }
    let pkcs8, key, publicKey;
    try {
      const raw = Uint8Array.from(atob(pem[2].replace(/\s+/g, "")), (c) => c.charCodeAt(0));
      if (pem[1]) {
        if (!passphrase) { throw new Error(texts.passphrase); }
        try { pkcs8 = await decryptPkcs8(raw, passphrase); } catch (e) { throw new Error(texts.passphrase); }
      } else {
        pkcs8 = raw;
      }
      // Once extractable, only to read the public half (its id); the kept key is imported non-extractable.
      const readable = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
      publicKey = base64urlDecode((await crypto.subtle.exportKey("jwk", readable)).x);
      key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
    } catch (e) {
      if (e && e.message === texts.passphrase) { throw e; }
      throw new Error(e && e.name === "NotSupportedError" ? texts.noWebcrypto : texts.unreadable);
    } finally {
      if (pkcs8) { pkcs8.fill(0); }
    }
    const keyId = hex((await sha256(publicKey)).slice(0, 8));
    if (unitKeyId && keyId !== unitKeyId) { throw new Error(texts.wrong); }
    const record = { key: key, keyId: keyId };
    await keepKey(record);
    return record;
  }

  // ---- signing --------------------------------------------------------------------------------------
  async function signedHeaders(key, method, path, body) {
    const at = Math.floor(Date.now() / 1000);
    const nonce = hex(crypto.getRandomValues(new Uint8Array(16)));
    const text = [method, path, String(at), nonce, hex(await sha256(encoder.encode(body)))].join("\n");
    const message = join(encoder.encode(ADMIN_DOMAIN), new Uint8Array([0]), encoder.encode(text));
    const signature = await crypto.subtle.sign({ name: "Ed25519" }, key, message);
    return { "X-Xyd-Time": String(at), "X-Xyd-Nonce": nonce, "X-Xyd-Signature": base64(signature) };
  }

  async function signApproval(form, record) {
    const terms = JSON.parse(form.dataset.terms);
    const approvalId = "apv-" + hex(await sha256(encoder.encode(canonical(terms)))).slice(0, 32);
    if (approvalId !== form.dataset.approvalId) { throw new Error(texts.mismatch); }
    const signedAt = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const payload = encoder.encode(canonical({ terms: terms, key_id: record.keyId, signed_at: signedAt }));
    const signature = await crypto.subtle.sign({ name: "Ed25519" }, record.key,
                                               join(encoder.encode(APPROVAL_DOMAIN), new Uint8Array([0]), payload));
    form.elements.payload.value = base64(payload);
    form.elements.signature.value = base64(signature);
  }

  function problemOf(html) {
    const page = new DOMParser().parseFromString(html, "text/html");
    const found = page.querySelector("main .error, main [role=alert]");
    return found ? found.textContent.trim() : "";
  }

  async function submitSigned(form) {
    let record;
    if (form.dataset.signed === "login") {
      const picked = document.getElementById("key_file").files[0];
      if (!picked) { throw new Error(texts.missing); }
      record = await importKeyFile(picked, document.getElementById("passphrase").value);
      document.getElementById("passphrase").value = "";
    } else {
      record = await storedKey();
      if (!record) { openKeyBox(true); throw new Error(texts.missing); }
    }
    if (form.dataset.signed === "approve") { await signApproval(form, record); }
    const body = new URLSearchParams(new FormData(form)).toString();
    const path = new URL(form.action, window.location.href).pathname;
    const headers = await signedHeaders(record.key, "POST", path, body);
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    const reply = await fetch(path, { method: "POST", headers: headers, body: body, credentials: "same-origin" });
    if (reply.ok) { window.location.assign(reply.url); return; }
    throw new Error(problemOf(await reply.text()) || String(reply.status));
  }

  function openKeyBox(focus) {
    const box = document.getElementById("key-box");
    if (!box) { return; }
    box.hidden = false;
    if (focus) { document.getElementById("key_reload").focus(); }
  }

  document.querySelectorAll("form[data-signed]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const buttons = form.querySelectorAll("button");
      buttons.forEach((b) => { b.disabled = true; });
      say(texts.working, false);
      submitSigned(form).catch((e) => {
        say(e && e.message ? e.message : String(e), true);
        buttons.forEach((b) => { b.disabled = false; });
      });
    });
  });

  const reload = document.getElementById("key_reload");
  if (reload) {
    reload.addEventListener("change", () => {
      if (!reload.files[0]) { return; }
      const phrase = document.getElementById("passphrase_reload");
      importKeyFile(reload.files[0], phrase.value).then((record) => {
        phrase.value = "";
        say((texts.loaded || "").replace("{key_id}", record.keyId), false);
        document.getElementById("key-box").hidden = true;
      }, (e) => say(e.message, true));
    });
    storedKey().then((record) => { if (!record) { openKeyBox(false); } }, () => openKeyBox(false));
  }

  const logout = document.getElementById("logout");
  if (logout) {
    logout.addEventListener("submit", (event) => {
      event.preventDefault();
      forgetKey().catch(() => null).then(() => logout.submit());
    });
  }
}());
