// Green Points: resident reports (随手拍) where the signal drops. A resident's report,
// and a grid worker's accept and resolve from the 待办 list, go into the phone's queue
// (queue.js, IndexedDB, the same queue as the inspector's grades) with their own
// Idempotency-Keys, and are sent through the API when the signal returns: a report,
// then its photo; a resolve's after-photo, then the resolve. The page shows how many
// wait, and what became of each.
import * as Q from "./queue.js";

const root = document.querySelector("[data-case-queue]");

function start() {
  // The prefix of a form's key and the refusal codes: the server's word, on the page.
  Q.configureFrom(root);
  var $ = function (sel) { return root.querySelector(sel); };
  var phrases = JSON.parse(root.getAttribute("data-texts") || "{}");
  var texts = phrases.msgs || {};
  var username = root.getAttribute("data-username");
  var statusLine = $("[data-queue-status]");
  var sending = false;
  var retryDelay = 2000;
  var retryTimer = null;
  var opened = new Date().toISOString();

  function msg(name, values) {
    var text = texts[name] || "";
    Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(values[k]); });
    return text;
  }

  async function pageToken() {
    const response = await fetch(root.getAttribute("data-token-url"), {
      method: "POST", credentials: "same-origin", redirect: "manual",
      headers: { "X-CSRFToken": root.getAttribute("data-csrf"), "Accept": "application/json" }
    });
    const type = response.headers.get("Content-Type") || "";
    if (!response.ok || type.indexOf("json") < 0) throw new Error("login");
    return response.json();
  }

  function tokenOptions() { return { newToken: pageToken, username: username }; }

  function mine(items) {
    return items.filter(function (i) { return !i.username || i.username === username; });
  }

  // ---- What waits, and what became of what was sent.
  function why(code, detail) {
    var known = phrases.refusals || {};
    if (code && known[code]) return known[code];
    return code ? msg("code", { code: code }) : detail;
  }

  function words(o) {
    var code = o.label || (o.case_id ? "#" + o.case_id : "");
    if (o.kind === "refused") return msg("refused", { code: code, why: why(o.code, o.why) });
    var text = msg(o.kind, { code: code });
    return o.photo_refused ? text + " " + msg("nophoto", { why: why(o.photo_code, o.photo_refused) }) : text;
  }

  async function showOutcomes() {
    const list = await Q.outcomes();
    var box = $("[data-outcomes]");
    box.textContent = "";
    list.filter(function (o) { return o.type === "case"; }).forEach(function (o) {
      var li = document.createElement("li");
      li.textContent = words(o);
      li.className = "outcome outcome-" + (o.kind === "refused" ? "refused" : "credited");
      li.setAttribute("data-outcome", o.kind);
      box.appendChild(li);
    });
    // Newest first in the list: the states are shown oldest first, the newest last.
    list.slice().reverse().forEach(function (o) {
      if (o.type === "case" && o.at > opened) showState(o);
    });
  }

  // A case this page lists, accepted or resolved since the page was opened: its new state.
  function showState(o) {
    var state = { accepted: "accepted", resolved: "resolved" }[o.kind];
    var shown = state && document.querySelector('[data-case="' + o.case_id + '"] [data-state]');
    if (!shown) return;
    shown.textContent = msg("state-" + state);
    shown.setAttribute("data-state", state);
    shown.className = "case-state " + state;
  }

  // The 待办 list: a case with a tap waiting says so, and its resolve opens after an accept.
  function markCases(items) {
    var waiting = {};
    items.forEach(function (i) {
      if (i.type === "case" && i.case_id && i.op !== "report") {
        (waiting[i.case_id] = waiting[i.case_id] || []).push(i.op);
      }
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-quick]"), function (box) {
      var ops = waiting[box.getAttribute("data-quick")] || [];
      box.querySelector("[data-queue-tag]").textContent = ops.length ? msg("waiting") : "";
      var accept = box.querySelector("[data-queue-accept]");
      if (accept && ops.indexOf("accept") >= 0) {
        accept.hidden = true;
        box.querySelector("[data-queue-resolve]").hidden = false;
      }
      if (ops.indexOf("resolve") >= 0) box.querySelector("[data-queue-resolve]").hidden = true;
    });
  }

  async function refresh() {
    const items = mine(await Q.all());
    statusLine.hidden = items.length === 0;
    statusLine.textContent = msg(sending ? "sending" : "queued", { n: items.length });
    if (!items.length) $("[data-queue-notice]").hidden = true;
    markCases(items);
    return showOutcomes();
  }

  function later() {
    if (retryTimer) return;
    retryTimer = setTimeout(function () { retryTimer = null; send(); }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 60000);
  }

  async function send() {
    if (!navigator.onLine) return refresh();
    sending = true;
    await refresh();
    const state = await Q.send(tokenOptions());
    sending = false;
    $("[data-queue-login]").hidden = state !== "login";
    if (state === "later") later();
    else retryDelay = 2000;
    return refresh();
  }

  async function enqueue(item) {
    item.type = "case";
    item.key = item.key || Q.newKey();
    item.username = username;
    item.at = new Date().toISOString();
    await Q.add(item);
    const notice = $("[data-queue-notice]");
    notice.textContent = msg("saved");
    notice.hidden = navigator.onLine;
    await refresh();
    if (navigator.onLine) send();
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

  function photoOf(input) {
    var file = input && input.files && input.files[0];
    return file ? resize(file) : Promise.resolve(null);
  }

  // ---- The resident's report: with a signal the form is sent as it is; without one (or
  // when sending fails for want of a signal) it waits in the queue under the form's key.
  var reportForm = document.querySelector("form[data-report-form]");
  if (reportForm) {
    var keyField = reportForm.querySelector("[name=key]");
    var bypass = false;

    var queueReport = async function (button) {
      var formKey = keyField.value;
      // The next tap on this page is another report: it gets a key of its own.
      keyField.value = Q.newKey();
      var anonymous = reportForm.querySelector("[name=anonymous]");
      const photo = await photoOf(reportForm.querySelector("[data-report-photo]"));
      const item = {
        op: "report", key: Q.pageKey(formKey), category: button.value,
        description: reportForm.querySelector("[name=description]").value.trim(),
        anonymous: !!(anonymous && anonymous.checked), photo: photo,
        label: (button.querySelector("span") || button).textContent.trim()
      };
      reportForm.reset();
      return enqueue(item);
    };

    reportForm.addEventListener("submit", async function (event) {
      var button = event.submitter;
      if (bypass || !button || !button.value) return;
      event.preventDefault();
      if (!navigator.onLine) { queueReport(button); return; }
      var data = new FormData(reportForm);
      data.set("category", button.value);
      let response;
      try {
        response = await fetch(reportForm.action, { method: "POST", body: data, credentials: "same-origin" });
      } catch (e) { queueReport(button); return; }
      if (response.redirected) { window.location.assign(response.url); return; }
      // A refusal to show on the page: send the form the ordinary way (same key).
      bypass = true;
      reportForm.requestSubmit(button);
    });
  }

  // ---- The worker's 待办: accept, and resolve with the after-photo, through the queue.
  Array.prototype.forEach.call(document.querySelectorAll("[data-quick]"), function (box) {
    var caseId = Number(box.getAttribute("data-quick"));
    var label = box.getAttribute("data-code");
    var accept = box.querySelector("[data-queue-accept]");
    var resolveBox = box.querySelector("[data-queue-resolve]");
    var photoInput = resolveBox.querySelector("[data-queue-photo]");
    var fixed = resolveBox.querySelector("[data-queue-fixed]");
    var photo = null;
    if (accept) {
      accept.addEventListener("click", function () {
        accept.disabled = true;
        enqueue({ op: "accept", case_id: caseId, label: label });
      });
    }
    photoInput.addEventListener("change", async function () {
      const blob = await photoOf(photoInput);
      photo = blob;
      fixed.disabled = !blob;
      resolveBox.querySelector("[data-photo-name]").textContent = blob ? msg("attached") : "";
    });
    fixed.addEventListener("click", function () {
      if (!photo) return;
      fixed.disabled = true;
      enqueue({
        op: "resolve", case_id: caseId, label: label, photo: photo,
        note: resolveBox.querySelector("[data-queue-note]").value.trim()
      });
    });
  });

  window.addEventListener("online", function () { retryDelay = 2000; send(); });
  window.addEventListener("offline", refresh);
  if ("BroadcastChannel" in window) new BroadcastChannel("gp-queue").onmessage = refresh;
  // For the console and the browser tests: the queue and this page's sender.
  window.GPQueue = Q;
  window.GPCases = { send: send, refresh: refresh };
  send();
}

if (root) start();
