// Green Points inspector app: grades that never get lost where the signal drops.
// A grade tapped offline (or whose request fails) goes into the phone's queue
// (queue.js, IndexedDB) with its Idempotency-Key made at the tap; the queue sends
// itself through the API when the signal returns (the online event, a retry with
// backoff, and Background Sync in the service worker where the browser has it),
// and the page shows each outcome.
(function () {
  "use strict";
  var root = document.querySelector("[data-offline]");
  if (!root || !window.GPQueue) return;
  var Q = window.GPQueue;
  var $ = function (sel) { return root.querySelector(sel); };
  var statusLine = $("[data-queue-status]");
  var panel = $("[data-panel]");
  var passwordForm = $("[data-password]");
  var username = root.dataset.username;
  var sending = false;
  var retryDelay = 2000;
  var retryTimer = null;
  var current = null;      // the household the offline panel grades
  var panelPhoto = null;   // its photo, resized
  // The words, in the page's language: /inspect/texts.js (offline_texts(), refusal_texts()).
  var phrases = window.GPTexts || { msgs: {}, refusals: {} };
  var texts = phrases.msgs;

  function msg(name, values) {
    var text = texts[name] || "";
    Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(values[k]); });
    return text;
  }

  function load(name) {
    try { return JSON.parse(localStorage.getItem("gp." + name) || "null"); } catch (e) { return null; }
  }
  function save(name, value) { localStorage.setItem("gp." + name, JSON.stringify(value)); }

  // ---- The roster of the inspector's grids, kept for lookups offline.
  function roster() {
    var r = load("roster");
    // Another inspector's roster (a shared phone) is not this one's.
    return r && (!username || r.username === username) ? r : null;
  }

  function dayOf(moment) {
    var r = roster();
    try {
      return new Intl.DateTimeFormat("en-CA", { timeZone: (r && r.timezone) || undefined }).format(moment);
    } catch (e) { return moment.toISOString().slice(0, 10); }
  }
  function villageToday() { return dayOf(new Date()); }

  function findHousehold(id) {
    var r = roster();
    if (!r) return null;
    for (var i = 0; i < r.items.length; i++) if (r.items[i].id === id) return r.items[i];
    return null;
  }

  function showRoster() {
    var r = roster();
    var line = $("[data-roster-status]");
    if (!line) return;
    if (!r) { line.textContent = msg("noroster"); return; }
    var when = new Date(r.fetched_at);
    line.textContent = msg("roster", {
      n: r.items.length,
      when: when.toLocaleDateString() + " " + when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    });
  }

  // Asked again at most every few minutes (this phone's own grades are written into it as
  // they are recorded), and then with its ETag: an unchanged roster costs a 304, no body.
  var ROSTER_FRESH_MS = 5 * 60 * 1000;

  function rosterFresh(r) {
    return r && r.etag && r.checked_at && r.today === villageToday() &&
      Math.abs(Date.now() - r.checked_at) < ROSTER_FRESH_MS;
  }

  function fetchRoster(force) {
    var kept = roster();
    if (!force && rosterFresh(kept)) return Promise.resolve();
    return Q.token(tokenOptions()).then(function (token) {
      if (!token) return;
      var headers = { "Authorization": "Bearer " + token.token };
      if (kept && kept.etag) headers["If-None-Match"] = kept.etag;
      return fetch("/api/v1/roster", { headers: headers, credentials: "omit", cache: "no-store" })
        .then(function (response) {
          if (response.status === 304) {
            kept.checked_at = Date.now();
            kept.fetched_at = new Date().toISOString();
            save("roster", kept);
            return showRoster();
          }
          if (!response.ok) return;
          return response.json().then(function (body) {
            body.etag = response.headers.get("ETag");
            body.checked_at = Date.now();
            save("roster", body);
            showRoster();
          });
        });
    }).catch(function () {});
  }

  // The done page: this phone's grade, written into the kept roster (no new download).
  function noteRecorded() {
    var recorded = document.querySelector("[data-recorded]");
    var r = load("roster");
    if (!recorded || !r || r.username !== username) return;
    var id = Number(recorded.getAttribute("data-recorded"));
    r.items.forEach(function (h) {
      if (h.id !== id) return;
      h.balance = Number(recorded.querySelector("[data-balance]").textContent);
      h.last_inspected_on = recorded.getAttribute("data-day");
    });
    save("roster", r);
  }

  // ---- The bearer token the queue is sent with (the API takes no cookies). The page
  // asks for one with its session; it is kept in IndexedDB, where the worker finds it.
  function pageToken() {
    return fetch(root.dataset.tokenUrl, {
      method: "POST", credentials: "same-origin", redirect: "manual",
      headers: { "X-CSRFToken": root.dataset.csrf, "Accept": "application/json" }
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (!response.ok || type.indexOf("json") < 0) throw new Error("login");
      return response.json();
    });
  }

  function tokenOptions() { return { newToken: pageToken, username: username }; }

  function askPassword() {
    passwordForm.hidden = false;
  }

  passwordForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var field = passwordForm.querySelector("input[type=password]");
    var error = passwordForm.querySelector("[data-password-error]");
    fetch("/api/v1/auth/tokens", {
      method: "POST", credentials: "omit", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: username, password: field.value })
    }).then(function (response) {
      if (!response.ok) { error.textContent = msg("wrong"); error.hidden = false; return; }
      return response.json().then(function (body) {
        field.value = "";
        error.hidden = true;
        passwordForm.hidden = true;
        return Q.setToken({ token: body.token, expires_at: body.expires_at, username: body.user.username })
          .then(send);
      });
    }).catch(function () {});
  });

  // ---- The queue: its count, its outcomes, and sending it.
  function refresh() {
    return Q.all().then(function (items) {
      statusLine.hidden = items.length === 0;
      statusLine.textContent = msg(sending ? "sending" : "queued", { n: items.length });
      return showOutcomes().then(function () { return markTodo(items); }).then(function () {
        return items;
      });
    });
  }

  // The server's lists of today, as this phone knows them now: my inspections gain the
  // grades this phone sent; the households still to inspect are marked graded and sent
  // (or already graded by someone), or graded and waiting to be sent.
  function addMine(credited) {
    var box = document.querySelector("[data-mine]");
    if (!box) return;
    credited.forEach(function (o) {
      if (!o.inspection_id || box.querySelector('[data-inspection="' + o.inspection_id + '"]')) return;
      var li = document.createElement("li");
      li.setAttribute("data-inspection", o.inspection_id);
      li.textContent = who(o) + " · " + o.grade + " · " + (o.points >= 0 ? "+" : "") + o.points;
      box.appendChild(li);
      countInSummary(o.grade);
    });
    var count = box.querySelectorAll("[data-inspection]").length;
    var none = box.querySelector("[data-mine-none]");
    if (none && count) none.remove();
    document.querySelector("[data-mine-count]").textContent = count;
  }

  // The day's summary (the server's counts) gains a grade this phone's queue sent since.
  function countInSummary(grade) {
    var summary = document.querySelector("[data-summary]");
    if (!summary) return;
    var total = summary.querySelector("[data-summary-total]");
    total.textContent = Number(total.textContent) + 1;
    Array.prototype.forEach.call(summary.querySelectorAll("[data-summary-grade]"), function (span) {
      if (span.getAttribute("data-summary-grade") !== grade) return;
      var n = span.querySelector("[data-summary-count]");
      n.textContent = Number(n.textContent) + 1;
    });
  }

  function markTodo(items) {
    return Q.outcomes().then(function (list) {
      var today = villageToday(), done = {}, waiting = {};
      addMine(list.filter(function (o) { return o.day === today && o.kind === "credited"; }));
      list.forEach(function (o) {
        if (o.day === today && (o.kind === "credited" || o.kind === "already" || o.kind === "sent")) {
          done[o.household_id] = true;
        }
      });
      items.forEach(function (item) { if (item.day === today) waiting[item.household_id] = true; });
      Array.prototype.forEach.call(document.querySelectorAll("[data-todo]"), function (li) {
        var id = li.getAttribute("data-todo");
        var state = done[id] ? "done" : (waiting[id] ? "queued" : "");
        li.setAttribute("data-todo-state", state);
        li.querySelector("[data-todo-tag]").textContent = state ? msg("todo-" + state) : "";
      });
    });
  }

  function who(o) {
    var h = o.household_id ? findHousehold(o.household_id) : null;
    return o.label || (h ? h.code + " " + h.name : "#" + (o.household_id || "?"));
  }

  // A refusal in the page's language: by its code where the page knows it, else the code.
  function why(code, detail) {
    var known = phrases.refusals;
    if (code && known[code]) return known[code];
    return code ? msg("code", { code: code }) : detail;
  }

  function words(o) {
    if (o.kind === "credited") {
      var text = msg("credited", {
        who: who(o), points: (o.points >= 0 ? "+" : "") + o.points, balance: o.balance
      });
      return o.photo_refused ? text + " " + msg("nophoto", { why: why(o.photo_code, o.photo_refused) }) : text;
    }
    if (o.kind === "refused") return msg("refused", { who: who(o), why: why(o.code, o.why) });
    return msg(o.kind, { who: who(o) });
  }

  function showOutcomes() {
    return Q.outcomes().then(function (list) {
      var box = $("[data-outcomes]");
      box.textContent = "";
      // A case's outcomes are shown on the cases pages (cases-offline.js).
      list.filter(function (o) { return o.type !== "case"; }).forEach(function (o) {
        var li = document.createElement("li");
        li.textContent = words(o);
        li.className = "outcome outcome-" + o.kind;
        li.setAttribute("data-outcome", o.kind);
        box.appendChild(li);
      });
    });
  }

  function later() {
    if (retryTimer) return;
    retryTimer = setTimeout(function () { retryTimer = null; send(); }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 60000);
  }

  // Send the queue now (queue.js does it, one sender at a time with the worker).
  function send() {
    if (!navigator.onLine) return Promise.resolve();
    sending = true;
    return refresh().then(function () { return Q.send(tokenOptions()); }).then(function (state) {
      sending = false;
      $("[data-forbidden]").hidden = state !== "forbidden";
      if (state === "login") askPassword();
      else if (state === "later") later();
      else retryDelay = 2000;
      return refresh();
    });
  }

  // Ask the browser to send the queue when the signal returns, even with no page open.
  function syncLater() {
    if (!("serviceWorker" in navigator) || !root.dataset.sw) return Promise.resolve();
    return navigator.serviceWorker.ready.then(function (registration) {
      if (!registration.sync) return;
      return registration.sync.register(Q.SYNC_TAG).then(function () { root.dataset.sync = Q.SYNC_TAG; });
    }).catch(function () {});
  }

  // ---- Queueing a grade, from the offline panel or from the grade page.
  function enqueue(item) {
    item.key = item.key || Q.newKey();
    item.inspected_at = new Date().toISOString();
    item.day = villageToday();
    item.username = username;
    return Q.add(item).then(refresh).then(function () {
      // Not waited for: a worker that is not ready yet must not hold the tap up.
      syncLater();
      if (navigator.onLine) send();
    });
  }

  function resize(file) {
    return new Promise(function (resolve) {
      var image = new Image();
      image.onload = function () {
        var scale = Math.min(1, 1600 / Math.max(image.width, image.height));
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(image.width * scale);
        canvas.height = Math.round(image.height * scale);
        canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
        URL.revokeObjectURL(image.src);
        canvas.toBlob(function (blob) { resolve(blob || file); }, "image/jpeg", 0.85);
      };
      image.onerror = function () { resolve(file); };
      image.src = URL.createObjectURL(file);
    });
  }

  // A small picture of the photo just taken, after the line that says it is attached.
  function thumbnail(after, blob) {
    if (!after) return;
    var img = after.parentNode.querySelector("img[data-photo-thumb]");
    if (!img) {
      img = document.createElement("img");
      img.className = "photo-thumb";
      img.setAttribute("data-photo-thumb", "");
      img.alt = $("[data-photo-attached]").textContent;
      after.parentNode.insertBefore(img, after.nextSibling);
    }
    if (img.src) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(blob);
  }

  function onPhoto(input, keep) {
    input.addEventListener("change", function () {
      var file = input.files[0];
      var name = input.parentNode.querySelector("[data-photo-name]");
      if (!file) return;
      resize(file).then(function (blob) {
        keep(blob);
        if (name) {
          name.textContent = $("[data-photo-attached]").textContent;
          thumbnail(name, blob);
        }
      });
    });
  }

  // The grade page: offline, the tap goes to the queue instead of the network.
  var gradeForm = document.querySelector("form[data-grade-form]");
  if (gradeForm) {
    var gradePhoto = null;
    var photoInput = gradeForm.querySelector("[data-grade-photo]");
    onPhoto(photoInput, function (blob) {
      gradePhoto = blob;
      // The smaller photo goes up with the form too.
      if (window.DataTransfer && blob !== photoInput.files[0]) {
        var transfer = new DataTransfer();
        transfer.items.add(new File([blob], "photo.jpg", { type: "image/jpeg" }));
        photoInput.files = transfer.files;
      }
    });
    gradeForm.addEventListener("submit", function (event) {
      if (navigator.onLine) return;
      event.preventDefault();
      var household = findHousehold(Number(gradeForm.dataset.household));
      enqueue({
        key: Q.pageKey(gradeForm.querySelector("[name=key]").value),
        household_id: Number(gradeForm.dataset.household),
        grade: event.submitter ? event.submitter.value : "",
        note: gradeForm.querySelector("[name=note]").value.trim(),
        photo: gradePhoto,
        label: household ? household.code + " " + household.name : ""
      }).then(function () { window.location.href = "/inspect?queued=1"; });
    });
  }

  // The done page: a photo may still be added in the minute after the grade.
  var late = document.querySelector("[data-late-photo]");
  if (late) {
    var lateStatus = late.querySelector("[data-late-photo-status]");
    setTimeout(function () { late.hidden = true; }, 60000);
    onPhoto(late.querySelector("input[type=file]"), function (blob) {
      var form = new FormData();
      form.append("photo", blob, "photo.jpg");
      Q.token(tokenOptions()).then(function (token) {
        if (!token) throw new Error("login");
        return fetch("/api/v1/inspections/" + late.dataset.inspection + "/photo", {
          method: "POST", body: form, credentials: "omit",
          headers: { "Authorization": "Bearer " + token.token, "Idempotency-Key": Q.newKey() }
        });
      }).then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        lateStatus.textContent = $("[data-photo-attached]").textContent;
        thumbnail(lateStatus, blob);
      }).catch(function () { lateStatus.textContent = late.dataset.msgFailed; });
    });
  }

  // ---- The offline panel on the scanner page.
  function notice(text) {
    var line = $("[data-notice]");
    line.textContent = text;
    line.hidden = false;
  }

  function readCard(text) {
    var token = text.split("/q/").pop().split(/[?#]/)[0];
    try {
      var raw = atob(token.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((token.length + 3) % 4));
      if (raw.length < 10) return null;
      var bytes = Uint8Array.from(raw, function (c) { return c.charCodeAt(0); });
      var view = new DataView(bytes.buffer);
      return { village_id: view.getUint32(0), household_id: view.getUint32(4), version: view.getUint16(8) };
    } catch (e) { return null; }
  }

  function inspectedToday(id) {
    var h = findHousehold(id);
    var today = villageToday();
    if (h && h.last_inspected_on === today) return Promise.resolve(true);
    return Q.all().then(function (items) {
      return items.some(function (i) { return i.household_id === id && (i.day || dayOf(new Date(i.inspected_at))) === today; });
    });
  }

  function closePanel() {
    panel.hidden = true;
    current = null;
    panelPhoto = null;
    $("[data-panel-text]").value = "";
    $("[data-panel-photo]").value = "";
    panel.querySelector("[data-photo-name]").textContent = "";
    document.dispatchEvent(new CustomEvent("gp:scan-again"));
  }

  function openPanel(ref) {
    var r = roster();
    if (!r) { notice(msg("noroster")); return; }
    var h = ref.household_id ? findHousehold(ref.household_id) : null;
    current = { household_id: ref.household_id, payload: ref.payload || null,
      label: h ? h.code + " " + h.name : "" };
    $("[data-panel-name]").textContent = h ? h.name : "#" + ref.household_id;
    $("[data-panel-meta]").textContent = h ? h.code + " · " + h.address + " · " + h.balance : "";
    $("[data-panel-note]").textContent = h ? "" : msg("unknown");
    var grades = $("[data-panel-grades]");
    grades.textContent = "";
    r.grades.forEach(function (g, i) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button grade grade-" + (i + 1);
      button.value = g.grade;
      button.setAttribute("data-offline-grade", g.grade);
      var label = document.createElement("span");
      label.className = "grade-label";
      label.textContent = g.label;
      var points = document.createElement("span");
      points.className = "grade-points";
      points.textContent = g.grade + " · " + (g.points >= 0 ? "+" : "") + g.points;
      button.appendChild(label);
      button.appendChild(points);
      grades.appendChild(button);
    });
    inspectedToday(ref.household_id).then(function (yes) { $("[data-panel-today]").hidden = !yes; });
    panel.hidden = false;
    panel.scrollIntoView();
  }

  // A scanned card, on the scanner page or on the done page (the next card).
  document.addEventListener("gp:scanned", function (event) {
    var card = readCard(event.detail);
    if (navigator.onLine) {
      // A card of the roster at its current version goes straight to its household's
      // page: one round trip less on a weak link. Any other card goes through the
      // server's check (revoked, another village, unreadable).
      var r = roster();
      var h = card && r && r.village_id === card.village_id ? findHousehold(card.household_id) : null;
      if (h && h.card_version === card.version) {
        event.preventDefault();
        window.location.href = "/inspect/household/" + h.id;
      }
      return;
    }
    // Without a signal the panel grades it here, instead of the (unreachable) household
    // page; a page without the panel goes to /inspect/card, which the worker answers
    // with the kept scanner page, and its panel opens there.
    if (!panel) return;
    event.preventDefault();
    if (!card) { notice(msg("invalid")); document.dispatchEvent(new CustomEvent("gp:scan-again")); return; }
    openPanel({ household_id: card.household_id, payload: event.detail });
  });

  if (panel) {
    onPhoto($("[data-panel-photo]"), function (blob) { panelPhoto = blob; });
    $("[data-panel-cancel]").addEventListener("click", closePanel);
    $("[data-panel-grades]").addEventListener("click", function (event) {
      var button = event.target.closest("button[data-offline-grade]");
      if (!button || !current) return;
      var item = Object.assign({}, current, {
        grade: button.value, note: $("[data-panel-text]").value.trim(), photo: panelPhoto
      });
      closePanel();
      enqueue(item);
    });
    // The service worker answered a household link with this kept page: grade it here.
    var path = window.location.pathname;
    var linked = /^\/inspect\/household\/(\d+)$/.exec(path);
    if (linked) openPanel({ household_id: Number(linked[1]) });
    if (path === "/inspect/card") {
      var payload = new URLSearchParams(window.location.search).get("payload") || "";
      var card = readCard(payload);
      if (card) openPanel({ household_id: card.household_id, payload: payload });
    }
  }

  // ---- The QR decoder: a phone with no native one (BarcodeDetector) needs it to scan
  // offline, so the worker keeps it; a phone with one never downloads it.
  function nativeQr() {
    if (!("BarcodeDetector" in window)) return Promise.resolve(false);
    return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      return formats.indexOf("qr_code") >= 0;
    }, function () { return false; });
  }

  function keepDecoder() {
    var scanner = document.querySelector("[data-scanner][data-decoder]");
    if (!scanner || !("serviceWorker" in navigator) || !root.dataset.sw) return;
    nativeQr().then(function (native) {
      if (native) return null;
      return navigator.serviceWorker.ready.then(function (registration) {
        return new Promise(function (resolve) {
          var channel = new MessageChannel();
          channel.port1.onmessage = function (event) { resolve(event.data); };
          registration.active.postMessage({ keep: scanner.dataset.decoder }, [channel.port2]);
        });
      }).then(function (state) { root.setAttribute("data-decoder", state); });
    }).catch(function () {});
  }

  // ---- Start: the worker, the roster, the queue.
  if ("serviceWorker" in navigator && root.dataset.sw) {
    // Its update checks go through the HTTP cache (the worker is kept a few minutes:
    // roster.py), not over the network after every page.
    navigator.serviceWorker.register(root.dataset.sw, { scope: "/inspect", updateViaCache: "all" })
      .catch(function () {});
  }
  window.addEventListener("online", function () { retryDelay = 2000; send(); if (panel) fetchRoster(); });
  noteRecorded();
  keepDecoder();
  window.addEventListener("offline", refresh);
  // The worker (Background Sync) or another tab sent part of the queue: show it.
  if ("BroadcastChannel" in window) new BroadcastChannel("gp-queue").onmessage = refresh;
  showRoster();
  refresh().then(function () {
    if (!navigator.onLine) return;
    var next = panel ? fetchRoster() : Promise.resolve();
    next.then(send);
  });
  window.GPInspect = { send: send, refresh: refresh };
})();
