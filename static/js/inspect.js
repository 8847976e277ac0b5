// Green Points inspector app: grades that never get lost where the signal drops.
// A grade tapped offline (or whose request fails) goes into the phone's queue
// (queue.js, IndexedDB) with its Idempotency-Key made at the tap; the queue sends
// itself through the API when the signal returns and shows each outcome.
(function () {
  "use strict";
  var root = document.querySelector("[data-offline]");
  if (!root || !window.GPQueue) return;
  var Q = window.GPQueue;
  var $ = function (sel) { return root.querySelector(sel); };
  var statusLine = $("[data-queue-status]");
  var panel = $("[data-panel]");
  var passwordForm = $("[data-password]");
  var sending = false;
  var retryDelay = 2000;
  var retryTimer = null;
  var current = null;      // the household the offline panel grades
  var panelPhoto = null;   // its photo, resized

  function msg(name, values) {
    var text = root.getAttribute("data-msg-" + name) || "";
    Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(values[k]); });
    return text;
  }

  function load(name) {
    try { return JSON.parse(localStorage.getItem("gp." + name) || "null"); } catch (e) { return null; }
  }
  function save(name, value) { localStorage.setItem("gp." + name, JSON.stringify(value)); }

  // ---- The roster of the inspector's grids, kept for lookups offline.
  function roster() { return load("roster"); }

  function villageToday() {
    var r = roster();
    try {
      return new Intl.DateTimeFormat("en-CA", { timeZone: (r && r.timezone) || undefined }).format(new Date());
    } catch (e) { return new Date().toISOString().slice(0, 10); }
  }

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

  function fetchRoster() {
    return api("GET", "/api/v1/roster").then(function (response) {
      if (!response.ok) return;
      return response.json().then(function (body) { save("roster", body); showRoster(); });
    }).catch(function () {});
  }

  // ---- The bearer token the queue is sent with (the API takes no cookies).
  function token() {
    var t = load("token");
    if (t && Date.parse(t.expires_at) - Date.now() > 5 * 60 * 1000) return Promise.resolve(t.token);
    return fetch(root.dataset.tokenUrl, {
      method: "POST", credentials: "same-origin", redirect: "manual",
      headers: { "X-CSRFToken": root.dataset.csrf, "Accept": "application/json" }
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (!response.ok || type.indexOf("json") < 0) throw new Error("login");
      return response.json();
    }).then(function (body) { save("token", body); save("username", body.username); return body.token; });
  }

  function api(method, path, options) {
    options = options || {};
    return token().then(function (bearer) {
      var headers = Object.assign({ "Authorization": "Bearer " + bearer }, options.headers || {});
      return fetch(path, { method: method, headers: headers, body: options.body, credentials: "omit" });
    });
  }

  function askPassword() {
    passwordForm.hidden = false;
  }

  passwordForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var field = passwordForm.querySelector("input[type=password]");
    var error = passwordForm.querySelector("[data-password-error]");
    fetch("/api/v1/auth/tokens", {
      method: "POST", credentials: "omit", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: load("username") || (roster() || {}).username, password: field.value })
    }).then(function (response) {
      if (!response.ok) { error.textContent = msg("wrong"); error.hidden = false; return; }
      return response.json().then(function (body) {
        save("token", { token: body.token, expires_at: body.expires_at, username: body.user && body.user.username });
        field.value = "";
        error.hidden = true;
        passwordForm.hidden = true;
        send();
      });
    }).catch(function () {});
  });

  // ---- The queue: its count, what it holds, and sending it.
  function refresh() {
    return Q.all().then(function (items) {
      statusLine.hidden = items.length === 0;
      statusLine.textContent = msg(sending ? "sending" : "queued", { n: items.length });
      return items;
    });
  }

  function outcome(text, kind) {
    var list = load("outcomes") || [];
    list.unshift({ text: text, kind: kind });
    save("outcomes", list.slice(0, 30));
    showOutcomes();
  }

  function showOutcomes() {
    var box = $("[data-outcomes]");
    box.textContent = "";
    (load("outcomes") || []).forEach(function (o) {
      var li = document.createElement("li");
      li.textContent = o.text;
      li.className = "outcome outcome-" + o.kind;
      li.setAttribute("data-outcome", o.kind);
      box.appendChild(li);
    });
  }

  function who(item) {
    var h = item.household_id ? findHousehold(item.household_id) : null;
    return item.label || (h ? h.code + " " + h.name : "#" + (item.household_id || "?"));
  }

  function later() {
    if (retryTimer) return;
    retryTimer = setTimeout(function () { retryTimer = null; send(); }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 60000);
  }

  function sendPhoto(item, inspectionId) {
    var form = new FormData();
    form.append("photo", item.photo, "photo.jpg");
    return api("POST", "/api/v1/inspections/" + inspectionId + "/photo", {
      headers: { "Idempotency-Key": item.key + ".p" }, body: form
    });
  }

  // Send one item; resolve true to go on with the next, false to stop for now.
  function sendOne(item) {
    var body = { grade: item.grade, inspected_at: item.inspected_at };
    if (item.payload) body.payload = item.payload; else body.household_id = item.household_id;
    if (item.note) body.note = item.note;
    var first = item.inspection_id
      ? Promise.resolve(null)
      : api("POST", "/api/v1/inspections", {
        headers: { "Idempotency-Key": item.key, "Content-Type": "application/json" },
        body: JSON.stringify(body)
      });
    return first.then(function (response) {
      if (response === null) return finishPhoto(item);
      if (response.status === 401) { localStorage.removeItem("gp.token"); throw new Error("login"); }
      if (response.status >= 500 || response.status === 429) return false;
      return response.json().catch(function () { return {}; }).then(function (result) {
        if (response.ok) {
          item.inspection_id = result.id;
          item.credited = msg("credited", {
            who: who(item), points: (result.points >= 0 ? "+" : "") + result.points, balance: result.balance
          });
          return Q.put(item).then(function () { return finishPhoto(item); });
        }
        var kinds = { already_inspected_today: "already", revoked_qr: "revoked", too_late: "toolate" };
        var kind = kinds[result.code];
        outcome(kind ? msg(kind, { who: who(item) })
          : msg("refused", { who: who(item), why: result.detail || result.title || response.status }), kind || "refused");
        return Q.remove(item.seq).then(function () { return true; });
      });
    });
  }

  function finishPhoto(item) {
    var upload = item.photo ? sendPhoto(item, item.inspection_id) : Promise.resolve(null);
    return upload.then(function (response) {
      if (response && response.status === 401) { localStorage.removeItem("gp.token"); throw new Error("login"); }
      if (response && response.status >= 500) return false;
      outcome(item.credited, "credited");
      return Q.remove(item.seq).then(function () { return true; });
    });
  }

  function send() {
    if (sending || !navigator.onLine) return Promise.resolve();
    sending = true;
    return refresh().then(function loop(items) {
      if (!items.length) return true;
      return sendOne(items[0]).then(function (goOn) {
        if (!goOn) return false;
        return refresh().then(loop);
      });
    }).then(function (done) {
      sending = false;
      if (done) retryDelay = 2000; else later();
      return refresh();
    }, function (error) {
      sending = false;
      refresh();
      if (error && error.message === "login") askPassword(); else later();
    });
  }

  // ---- Queueing a grade, from the offline panel or from the grade page.
  function enqueue(item) {
    item.key = item.key || Q.newKey();
    item.inspected_at = new Date().toISOString();
    item.day = villageToday();
    return Q.add(item).then(refresh).then(function () {
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

  function onPhoto(input, keep) {
    input.addEventListener("change", function () {
      var file = input.files[0];
      var name = input.parentNode.querySelector("[data-photo-name]");
      if (!file) return;
      resize(file).then(function (blob) {
        keep(blob);
        if (name) name.textContent = $("[data-photo-attached]").textContent;
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
        key: gradeForm.querySelector("[name=key]").value,
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
      sendPhoto({ photo: blob, key: Q.newKey() }, late.dataset.inspection).then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        lateStatus.textContent = $("[data-photo-attached]").textContent;
      }).catch(function () { lateStatus.textContent = late.dataset.msgFailed; });
    });
  }

  // ---- The offline panel on the scanner page.
  function readCard(text) {
    var token = text.split("/q/").pop().split(/[?#]/)[0];
    try {
      var raw = atob(token.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((token.length + 3) % 4));
      if (raw.length < 10) return null;
      var bytes = Uint8Array.from(raw, function (c) { return c.charCodeAt(0); });
      var view = new DataView(bytes.buffer);
      return { household_id: view.getUint32(4), version: view.getUint16(8) };
    } catch (e) { return null; }
  }

  function inspectedToday(id) {
    var h = findHousehold(id);
    var today = villageToday();
    if (h && h.last_inspected_on === today) return Promise.resolve(true);
    return Q.all().then(function (items) {
      return items.some(function (i) { return i.household_id === id && i.day === today; });
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
    if (!r) { outcome(msg("noroster"), "refused"); return; }
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
    // A scan without a signal opens the panel instead of the (unreachable) household page.
    document.addEventListener("gp:scanned", function (event) {
      if (navigator.onLine) return;
      event.preventDefault();
      var card = readCard(event.detail);
      if (!card) { outcome(msg("invalid"), "refused"); document.dispatchEvent(new CustomEvent("gp:scan-again")); return; }
      openPanel({ household_id: card.household_id, payload: event.detail });
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

  // ---- Start: the worker, the roster, the queue.
  if ("serviceWorker" in navigator && root.dataset.sw) {
    navigator.serviceWorker.register(root.dataset.sw, { scope: "/inspect" }).catch(function () {});
  }
  window.addEventListener("online", function () { retryDelay = 2000; send(); if (panel) fetchRoster(); });
  window.addEventListener("offline", refresh);
  showRoster();
  showOutcomes();
  refresh().then(function () {
    if (!navigator.onLine) return;
    var next = panel ? fetchRoster() : Promise.resolve();
    next.then(send);
  });
  window.GPInspect = { send: send, refresh: refresh };
})();
