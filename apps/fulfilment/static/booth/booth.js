/* The booth check-in page (apps/fulfilment/booth/views.py).

   Check a pass: scan its QR (BarcodeDetector where the browser has one, jsQR otherwise) or type
   the code. Online, the server says who and what (POST passes/lookup); offline, the phone checks
   the token's Ed25519 signature with the embedded public key (WebCrypto, else @noble/ed25519)
   and looks the pass up in the booth's pass list kept from the last time online.

   Redeem: every redemption goes into a queue kept in localStorage (it survives a reload) and is
   sent at once when online (POST passes/redeem-batch). Offline it waits; the `online` event and a
   retry timer send it later. The server answers per item; anything but "redeemed" becomes a
   conflict on the page. The same pass admitted twice on this phone is a conflict too, never a
   second redemption. Every sentence shown comes translated from the page (#booth-messages). */
(function () {
  "use strict";

  const cfg = JSON.parse(document.getElementById("booth-config").textContent);
  const T = JSON.parse(document.getElementById("booth-messages").textContent);
  const $ = (id) => document.getElementById(id);
  const lang = document.documentElement.lang || "en";
  const STORE = `booth:v1:${cfg.userId}:${cfg.exhibitor}`;
  const RETRY_MIN_S = 5, RETRY_MAX_S = 60, ROSTER_EVERY_MS = 300000, TICK_MS = 15000;

  function t(key, params) {
    let text = T[key] || key;
    for (const [name, value] of Object.entries(params || {})) text = text.split(`%(${name})s`).join(String(value));
    return text;
  }

  // --- Time ---------------------------------------------------------------------------------------

  // The expo's clock (24-hour), whatever the phone's time zone.
  const timeFmt = new Intl.DateTimeFormat(lang, {timeZone: cfg.timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23"});
  const dateTimeFmt = new Intl.DateTimeFormat(lang, {
    timeZone: cfg.timeZone, month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23"});
  const dayFmt = new Intl.DateTimeFormat("en-CA", {timeZone: cfg.timeZone, year: "numeric", month: "2-digit", day: "2-digit"});
  const sameDay = (a, b) => dayFmt.format(a) === dayFmt.format(b);
  function when(value) {
    if (!value) return "";
    const date = value instanceof Date ? value : new Date(value);
    return sameDay(date, new Date()) ? timeFmt.format(date) : dateTimeFmt.format(date);
  }
  function windowText(from, until) {
    if (!from && !until) return t("any_time");
    return `${from ? when(from) : "…"} – ${until ? when(until) : "…"}`;
  }

  // --- Storage (localStorage: small, synchronous, survives reloads) ------------------------------

  function load(name, fallback) {
    try {
      const raw = localStorage.getItem(`${STORE}:${name}`);
      return raw ? JSON.parse(raw) : fallback;
    } catch (e) {
      return fallback;
    }
  }
  function save(name, value) {
    try {
      localStorage.setItem(`${STORE}:${name}`, JSON.stringify(value));
    } catch (e) { /* storage full or disabled: the page keeps working from memory */ }
  }
  const state = {
    queue: load("queue", []),          // [{id, token, passId, redeemedAt, holder, product}]
    conflicts: load("conflicts", []),  // [{passId, holder, product, reason, at, redeemedAt}]
    done: load("done", []),            // [{passId, holder, product, redeemedAt}]
    roster: load("roster", null),      // {fetchedAt, passes: {id: pass}}
    lastSync: load("lastSync", null),
  };
  const persist = () => { save("queue", state.queue); save("conflicts", state.conflicts); save("done", state.done); };
  // Drop what is no longer today's business (the queue is kept whatever its age).
  state.done = state.done.filter((d) => sameDay(new Date(d.redeemedAt), new Date())).slice(-200);
  state.conflicts = state.conflicts.slice(-100);

  const uuid = () => (crypto.randomUUID ? crypto.randomUUID()
    : "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, (c) => {
      const r = Math.random() * 16 | 0;
      return (c === "x" ? r : (r & 0x3 | 0x8)).toString(16);
    }));

  // --- Network state -------------------------------------------------------------------------------

  let online = navigator.onLine;
  function setOnline(value) {
    online = value;
    const net = $("net");
    net.dataset.state = value ? "online" : "offline";
    net.textContent = value ? t("online") : t("offline");
    $("offline-banner").hidden = value;
    $("offline-banner").textContent = t("offline_banner");
    const redeem = $("redeem-button");
    redeem.textContent = value ? t("redeem") : t("redeem_offline");
  }
  function showAuthProblem(show) {
    $("auth-banner").hidden = !show;
    $("auth-banner").querySelector("span").textContent = t("signed_out");
  }
  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : cfg.csrfToken;
  }
  async function api(url, body) {
    const options = body === undefined
      ? {credentials: "same-origin", headers: {Accept: "application/json"}}
      : {method: "POST", credentials: "same-origin", body: JSON.stringify(body),
        headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken()}};
    const response = await fetch(url, options);  // throws when the network is down
    setOnline(true);
    if (response.status === 401 || response.status === 403) {
      showAuthProblem(true);
      const error = new Error("auth");
      error.auth = true;
      throw error;
    }
    showAuthProblem(false);
    return response;
  }

  // --- Tokens and signatures ----------------------------------------------------------------------

  const TOKEN = /v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/;
  function b64urlBytes(text) {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    const raw = atob(b64);
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }
  const publicKey = Uint8Array.from(atob(cfg.publicKey), (c) => c.charCodeAt(0));
  let subtleKey = null;
  async function ed25519Verify(signature, message) {
    if (window.crypto && crypto.subtle) {
      try {
        subtleKey = subtleKey || await crypto.subtle.importKey("raw", publicKey, {name: "Ed25519"}, false, ["verify"]);
        return await crypto.subtle.verify({name: "Ed25519"}, subtleKey, signature, message);
      } catch (e) { /* no Ed25519 in this WebCrypto: the library below */ }
    }
    try {
      const noble = await import(cfg.nobleUrl);
      return await noble.verifyAsync(signature, message, publicKey);
    } catch (e) {
      return null;  // cannot verify here (no SHA-512 outside a secure context)
    }
  }
  // {token, id, from, until, genuine: true | false | null}; null when the text holds no token.
  async function readToken(text) {
    const match = TOKEN.exec(text || "");
    if (!match) return null;
    const token = match[0];
    const [, payloadText, signatureText] = token.split(".");
    let payload, signature, fields;
    try {
      payload = b64urlBytes(payloadText);
      signature = b64urlBytes(signatureText);
      fields = new TextDecoder().decode(payload).split("|");
    } catch (e) {
      return {token, genuine: false};
    }
    if (fields.length !== 4 || !/^\d+$/.test(fields[0]) || fields[3] !== cfg.keyId || signature.length !== 64) {
      return {token, genuine: false};
    }
    const seconds = (s) => (s && s !== "0" ? new Date(Number(s) * 1000).toISOString() : null);
    return {token, id: Number(fields[0]), from: seconds(fields[1]), until: seconds(fields[2]),
      genuine: await ed25519Verify(signature, payload)};
  }

  // --- The pass list (for offline checks) ------------------------------------------------------------

  async function refreshRoster() {
    if (!navigator.onLine) return;
    try {
      const response = await api(cfg.api.roster);
      if (!response.ok) return;
      const body = await response.json();
      const passes = {};
      for (const p of body.passes) passes[p.id] = p;
      state.roster = {fetchedAt: body.generated_at, passes};
      save("roster", state.roster);
    } catch (e) { /* offline or signed out: keep the last list */ }
    renderSync();
  }

  // --- Checking a pass -----------------------------------------------------------------------------

  let current = null;  // what the result card shows: {kind, token, id, pass, source, item}

  function localRedemption(passId) {
    return state.queue.find((q) => q.passId === passId) || state.done.find((d) => d.passId === passId) || null;
  }

  function offlineVerdict(read) {
    if (read.genuine === null) return {kind: "unverifiable"};
    if (!read.genuine) return {kind: "forged"};
    const pass = state.roster && state.roster.passes[read.id];
    const base = {id: read.id, token: read.token, source: "offline",
      pass: pass || {id: read.id, holder: t("unknown_holder"), product: "—", valid_from: read.from,
        valid_until: read.until, redeemed_at: null}};
    // The token's own (signed) window decides validity, whatever the list says.
    base.pass = {...base.pass, valid_from: read.from, valid_until: read.until};
    const now = Date.now();
    if (pass && pass.state === "revoked") return {...base, kind: "revoked"};
    if (pass && pass.redeemed_at) return {...base, kind: "redeemed"};
    if (read.from && now < Date.parse(read.from)) return {...base, kind: "not_yet_valid"};
    if (read.until && now >= Date.parse(read.until)) return {...base, kind: "expired"};
    if (!pass) return {...base, kind: "unlisted"};
    return {...base, kind: "valid"};
  }

  async function check(text) {
    const read = await readToken(text);
    if (!read) {
      showVerdict({kind: "forged"});
      return;
    }
    let verdict = null;
    if (navigator.onLine) {
      try {
        const response = await api(cfg.api.lookup, {token: read.token, exhibitor: cfg.exhibitor});
        if (response.ok) {
          const pass = await response.json();
          verdict = {kind: pass.state, id: pass.id, token: read.token, pass, source: "online"};
          if (state.roster) {
            state.roster.passes[pass.id] = pass;
            save("roster", state.roster);
          }
        } else if (response.status === 404) {
          verdict = {kind: read.genuine === false ? "forged" : "foreign"};
        }
      } catch (e) {
        if (!e.auth) setOnline(false);
      }
    }
    if (!verdict) verdict = offlineVerdict(read);
    const mine = verdict.id !== undefined ? localRedemption(verdict.id) : null;
    if (mine && (verdict.kind === "valid" || verdict.kind === "unlisted" || verdict.kind === "redeemed")) {
      const pending = state.queue.includes(mine);
      if (pending || verdict.kind !== "redeemed") {
        verdict = {...verdict, kind: "local_duplicate", mine};
        addConflict({passId: verdict.id, holder: verdict.pass.holder, product: verdict.pass.product,
          reason: "local_duplicate", at: new Date().toISOString(), redeemedAt: mine.redeemedAt});
      }
    }
    showVerdict(verdict);
  }

  const VERDICT_STYLE = {
    valid: "ok", redeeming: "ok", redeemed_now: "ok", queued_now: "ok", redeemed: "bad", local_duplicate: "bad", revoked: "bad",
    foreign: "bad", forged: "bad", not_yet_valid: "warn", expired: "warn", unlisted: "warn", unverifiable: "warn",
  };

  function showVerdict(verdict) {
    current = verdict;
    const kind = verdict.kind;
    const pass = verdict.pass;
    $("result").hidden = false;
    $("verdict").dataset.tone = VERDICT_STYLE[kind] || "warn";
    $("result").dataset.kind = kind;
    let title, note;
    switch (kind) {
      case "redeemed_now":
        title = t("redeemed_now"); note = t("redeemed_now_note", {time: when(pass.redeemed_at)}); break;
      case "redeeming":
        title = t("redeeming"); note = ""; break;
      case "queued_now":
        title = t("queued_now"); note = t("queued_now_note", {time: when(verdict.item.redeemedAt)}); break;
      case "redeemed":
        title = t("state_redeemed"); note = t("state_redeemed_note", {time: when(pass.redeemed_at)}); break;
      case "local_duplicate":
        title = t("state_local_duplicate"); note = t("state_local_duplicate_note", {time: when(verdict.mine.redeemedAt)}); break;
      case "not_yet_valid":
        title = t("state_not_yet_valid"); note = t("state_not_yet_valid_note", {time: when(pass.valid_from)}); break;
      case "expired":
        title = t("state_expired"); note = t("state_expired_note", {time: when(pass.valid_until)}); break;
      case "unlisted":
        title = t("state_unlisted");
        note = t("state_unlisted_note", {time: state.roster ? when(state.roster.fetchedAt) : "—"}); break;
      default:
        title = t(`state_${kind}`); note = t(`state_${kind}_note`);
    }
    $("verdict-title").textContent = title;
    $("verdict-note").textContent = note;
    const facts = document.querySelector("#result .facts");
    facts.hidden = !pass;
    if (pass) {
      $("fact-holder").textContent = pass.holder;
      $("fact-product").textContent = pass.product;
      $("fact-valid").textContent = windowText(pass.valid_from, pass.valid_until);
      const redeemedAt = pass.redeemed_at || (verdict.mine && verdict.mine.redeemedAt)
        || (verdict.item && verdict.item.redeemedAt);
      $("fact-redeemed").textContent = redeemedAt ? when(redeemedAt) : t("not_redeemed");
    }
    $("result-source").textContent = verdict.source === "online" ? t("checked_online")
      : verdict.source === "offline" ? t("checked_offline") : "";
    $("redeem-button").hidden = kind !== "valid";
    $("redeem-button").disabled = false;
    $("admit-button").hidden = kind !== "unlisted";
    $("result").scrollIntoView({behavior: "smooth", block: "start"});
  }

  function redeem() {
    if (!current || (current.kind !== "valid" && current.kind !== "unlisted")) return;
    if (localRedemption(current.id)) return;  // a double tap: already queued
    $("redeem-button").disabled = true;
    const item = {id: uuid(), token: current.token, passId: current.id, redeemedAt: new Date().toISOString(),
      holder: current.pass.holder, product: current.pass.product};
    state.queue.push(item);
    persist();
    showVerdict({...current, kind: navigator.onLine ? "redeeming" : "queued_now", item});
    renderSync();
    sync();
  }

  // --- Sync -------------------------------------------------------------------------------------------

  let syncing = false, failures = 0, retryTimer = null, lastError = "";

  function addConflict(conflict) {
    state.conflicts.push(conflict);
    state.conflicts = state.conflicts.slice(-100);
    persist();
    renderConflicts();
  }

  function scheduleRetry() {
    clearTimeout(retryTimer);
    const seconds = Math.min(RETRY_MAX_S, RETRY_MIN_S * 2 ** Math.max(failures - 1, 0));
    lastError = t("sync_failed", {seconds});
    retryTimer = setTimeout(() => {
      retryTimer = null;
      sync();
    }, seconds * 1000);
  }

  async function sync() {
    if (syncing || !state.queue.length) return;
    syncing = true;
    renderSync();
    const batch = state.queue.slice(0, 100);
    let synced = 0;
    try {
      const response = await api(cfg.api.redeemBatch, {exhibitor: cfg.exhibitor,
        items: batch.map((q) => ({id: q.id, token: q.token, redeemed_at: q.redeemedAt}))});
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = await response.json();
      const byId = new Map(body.results.map((r) => [r.id, r]));
      for (const item of batch) {
        const result = byId.get(item.id);
        if (!result) continue;
        state.queue = state.queue.filter((q) => q.id !== item.id);
        const roster = state.roster && state.roster.passes[item.passId];
        if (result.status === "redeemed") {
          synced += 1;
          state.done.push({passId: item.passId, holder: result.holder || item.holder, product: result.product || item.product,
            redeemedAt: result.redeemed_at || item.redeemedAt});
          if (roster) { roster.redeemed_at = result.redeemed_at; roster.state = "redeemed"; }
          if (current && current.item && current.item.id === item.id) {
            showVerdict({...current, kind: "redeemed_now", pass: {...current.pass, redeemed_at: result.redeemed_at}});
          }
        } else {
          if (roster && result.status === "already_redeemed") { roster.redeemed_at = result.redeemed_at; roster.state = "redeemed"; }
          if (roster && result.status === "revoked") roster.state = "revoked";
          addConflict({passId: item.passId, holder: result.holder || item.holder, product: result.product || item.product,
            reason: result.status, at: item.redeemedAt, redeemedAt: result.redeemed_at});
          if (current && current.item && current.item.id === item.id) {
            const kind = {already_redeemed: "redeemed", duplicate: "redeemed", revoked: "revoked", not_found: "foreign",
              not_valid_now: "expired"}[result.status] || "forged";
            showVerdict({...current, kind, source: "online",
              pass: {...current.pass, holder: result.holder || current.pass.holder,
                product: result.product || current.pass.product, redeemed_at: result.redeemed_at}});
          }
        }
      }
      failures = 0;
      lastError = "";
      clearTimeout(retryTimer);
      retryTimer = null;
      state.lastSync = body.synced_at;
      save("lastSync", state.lastSync);
      if (state.roster) save("roster", state.roster);
      persist();
      if (synced && wasOffline) flash(t("sync_done", {count: synced}));
      wasOffline = false;
    } catch (e) {
      failures += 1;
      if (!e.auth && !navigator.onLine) setOnline(false);
      if (current && current.kind === "redeeming" && batch.some((q) => q.id === current.item.id)) {
        showVerdict({...current, kind: "queued_now"});
      }
      scheduleRetry();
    } finally {
      syncing = false;
      renderSync();
      renderRecent();
    }
    if (state.queue.length && !failures) sync();  // more than one batch waiting
  }

  // --- Rendering the lists ------------------------------------------------------------------------

  function li(main, detail, tone) {
    const item = document.createElement("li");
    if (tone) item.dataset.tone = tone;
    const strong = document.createElement("strong");
    strong.textContent = main;
    const small = document.createElement("span");
    small.textContent = detail;
    item.append(strong, small);
    return item;
  }

  let flashText = "";
  let wasOffline = !navigator.onLine;
  function flash(text) {
    flashText = text;
    renderSync();
  }

  function renderSync() {
    const count = state.queue.length;
    $("sync-summary").textContent = flashText || (count ? t("queue_waiting", {count}) : t("queue_empty"));
    $("sync-summary").dataset.tone = flashText ? "ok" : count ? "warn" : "";
    $("sync").dataset.pending = String(count);
    const list = $("queue-list");
    list.replaceChildren(...state.queue.map((q) => li(`${q.holder} · ${q.product}`, t("admitted_at", {time: when(q.redeemedAt)}), "warn")));
    $("sync-button").disabled = syncing || !count;
    $("sync-button").textContent = syncing ? t("syncing") : t("sync_now");
    // Offline, the banner says it all; a retry message is for a network that is up but failing.
    $("sync-status").textContent = [lastError && count && navigator.onLine ? lastError : "",
      state.lastSync ? t("synced_at", {time: when(state.lastSync)}) : count ? t("never_synced") : ""].filter(Boolean).join(" ");
    const roster = state.roster;
    $("roster-status").textContent = roster
      ? t("list_updated", {count: Object.keys(roster.passes).length, time: when(roster.fetchedAt)}) : t("list_missing");
  }

  function renderConflicts() {
    $("conflicts").hidden = !state.conflicts.length;
    $("conflict-list").replaceChildren(...state.conflicts.slice().reverse().map((c) => {
      const reason = t(`conflict_${c.reason}`, {time: when(c.redeemedAt)});
      return li(`${c.holder} · ${c.product}`, `${when(c.at)} — ${reason}`, "bad");
    }));
  }

  function renderRecent() {
    $("recent").hidden = !state.done.length;
    $("recent-list").replaceChildren(...state.done.slice(-20).reverse().map((d) => li(`${d.holder} · ${d.product}`, when(d.redeemedAt), "ok")));
  }

  // --- Camera -------------------------------------------------------------------------------------------

  let stream = null, scanning = false;
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", {willReadFrequently: true});

  function cameraMessage(text) {
    $("camera-message").hidden = !text;
    $("camera-message").textContent = text || "";
  }

  async function makeDetector() {
    if (!("BarcodeDetector" in window)) return null;
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      return formats.includes("qr_code") ? new window.BarcodeDetector({formats: ["qr_code"]}) : null;
    } catch (e) {
      return null;
    }
  }

  async function decodeFrame(video, detector) {
    if (detector) {
      const codes = await detector.detect(video);
      return codes.length ? codes[0].rawValue : null;
    }
    if (!window.jsQR || !video.videoWidth) return null;
    const scale = Math.min(1, 640 / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const code = window.jsQR(image.data, image.width, image.height, {inversionAttempts: "attemptBoth"});
    return code ? code.data : null;
  }

  async function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      cameraMessage(t("camera_unavailable"));
      return;
    }
    cameraMessage("");
    $("camera").hidden = false;
    $("camera-hint").textContent = t("camera_starting");
    $("scan-button").textContent = t("stop_camera");
    try {
      stream = await navigator.mediaDevices.getUserMedia({audio: false,
        video: {facingMode: {ideal: "environment"}, width: {ideal: 1280}, height: {ideal: 720}}});
    } catch (e) {
      stopCamera();
      cameraMessage(e && e.name === "NotAllowedError" ? t("camera_denied") : t("camera_unavailable"));
      return;
    }
    const video = $("video");
    video.srcObject = stream;
    await video.play().catch(() => null);
    $("camera-hint").textContent = t("camera_hint");
    const detector = await makeDetector();
    scanning = true;
    const loop = async () => {
      if (!scanning) return;
      let text = null;
      try {
        text = await decodeFrame(video, detector);
      } catch (e) { /* a frame not ready yet */ }
      if (text && TOKEN.test(text)) {
        stopCamera();
        if (navigator.vibrate) navigator.vibrate(60);
        $("code").value = TOKEN.exec(text)[0];
        check(text);
        return;
      }
      setTimeout(loop, 120);
    };
    loop();
  }

  function stopCamera() {
    scanning = false;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    $("video").srcObject = null;
    $("camera").hidden = true;
    $("scan-button").textContent = t("scan");
  }

  // --- Wiring ---------------------------------------------------------------------------------------------

  $("scan-button").addEventListener("click", () => (stream || scanning ? stopCamera() : startCamera()));
  $("code-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("code").value.trim();
    if (!text) {
      cameraMessage(t("empty_code"));
      return;
    }
    cameraMessage("");
    stopCamera();
    check(text);
  });
  $("redeem-button").addEventListener("click", redeem);
  $("admit-button").addEventListener("click", redeem);
  $("next-button").addEventListener("click", () => {
    current = null;
    $("result").hidden = true;
    $("code").value = "";
    flashText = "";
    renderSync();
    window.scrollTo({top: 0, behavior: "smooth"});
  });
  $("sync-button").addEventListener("click", () => { failures = 0; sync(); });
  $("dismiss-button").addEventListener("click", () => {
    state.conflicts = [];
    persist();
    renderConflicts();
  });
  window.addEventListener("online", () => {
    setOnline(true);
    failures = 0;
    sync();
    refreshRoster();
  });
  window.addEventListener("offline", () => {
    setOnline(false);
    wasOffline = true;
  });
  const logout = $("logout-form");
  if (logout) {
    logout.addEventListener("submit", (event) => {
      if (state.queue.length && !window.confirm(t("unsynced_on_logout", {count: state.queue.length}))) {
        event.preventDefault();
        return;
      }
      if (navigator.serviceWorker && navigator.serviceWorker.controller) {
        navigator.serviceWorker.controller.postMessage({type: "forget-pages"});
      }
    });
  }
  setInterval(() => {
    if (state.queue.length && navigator.onLine && !syncing && !retryTimer) sync();
  }, TICK_MS);
  setInterval(refreshRoster, ROSTER_EVERY_MS);
  // A camera left running in a pocket drains the battery: stop it when the page is hidden.
  document.addEventListener("visibilitychange", () => {
    if (document.hidden && (stream || scanning)) stopCamera();
  });

  if ("serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register(cfg.serviceWorker).then(() => navigator.serviceWorker.ready).then((registration) => {
      if (registration.active) {
        registration.active.postMessage({type: "precache", urls: [location.pathname + location.search, ...cfg.assets]});
      }
    }).catch(() => null);
  }

  setOnline(navigator.onLine);
  renderSync();
  renderConflicts();
  renderRecent();
  refreshRoster();
  sync();
})();
