// Green Points: the phone's queue of writes not yet sent (IndexedDB), and the one
// function that sends it. Loaded by the pages (inspect.js, cases-offline.js) and by the
// service worker (sw.js, for Background Sync), so all see one queue and send it the same
// way. It holds the inspector's grades, and the resident reports' writes (type "case":
// a report, a worker's accept or resolve), each with its Idempotency-Key made at the tap.
(function (scope) {
  "use strict";
  var DB = "greenpoints";
  var QUEUE = "queue";
  var META = "meta";        // the bearer token, and the outcomes shown to the inspector
  var MAX_BATCH = 100;      // POST /api/v1/inspections/batch takes at most this many
  var KEPT_OUTCOMES = 30;
  var LATER = "later";      // no signal, or the server is busy: try again later
  var LOGIN = "login";      // no valid token: the page asks for the password
  // The server refuses this user's grades whole (the role was changed since the login):
  // the grades stay queued, and the page says why instead of retrying in silence.
  var FORBIDDEN = "forbidden";
  var DONE = "done";
  // idempotency_conflict: a grade form's key the server already holds from the page's own
  // request (pageKey() below), with the page's answer that never came back.
  var CODES = {
    already_inspected_today: "already", revoked_qr: "revoked", too_late: "toolate",
    idempotency_conflict: "sent"
  };
  var opening = null;
  var channel = null;

  function open() {
    if (!opening) {
      opening = new Promise(function (resolve, reject) {
        var request = indexedDB.open(DB, 2);
        request.onupgradeneeded = function () {
          var db = request.result;
          // seq keeps the order of the taps: the queue is sent oldest first.
          if (!db.objectStoreNames.contains(QUEUE)) {
            db.createObjectStore(QUEUE, { keyPath: "seq", autoIncrement: true });
          }
          if (!db.objectStoreNames.contains(META)) db.createObjectStore(META);
        };
        request.onsuccess = function () {
          var db = request.result;
          // A newer page or worker upgrades the database: let it.
          db.onversionchange = function () { db.close(); opening = null; };
          resolve(db);
        };
        request.onerror = function () { opening = null; reject(request.error); };
      });
    }
    return opening;
  }

  function run(store, mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(store, mode);
        var result = work(tx.objectStore(store));
        tx.oncomplete = function () { resolve(result && "result" in result ? result.result : result); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  // Tell the pages that the queue or its outcomes changed (a worker may have sent it).
  function changed() {
    if (!("BroadcastChannel" in scope)) return;
    channel = channel || new BroadcastChannel("gp-queue");
    channel.postMessage("changed");
  }

  function getMeta(name) { return run(META, "readonly", function (store) { return store.get(name); }); }
  function setMeta(name, value) { return run(META, "readwrite", function (store) { store.put(value, name); }); }
  function deleteMeta(name) { return run(META, "readwrite", function (store) { store.delete(name); }); }

  function all() { return run(QUEUE, "readonly", function (store) { return store.getAll(); }); }
  function put(item) { return run(QUEUE, "readwrite", function (store) { store.put(item); }); }
  function remove(seq) {
    return run(QUEUE, "readwrite", function (store) { store.delete(seq); }).then(changed);
  }

  function addOutcome(outcome) {
    return run(META, "readwrite", function (store) {
      var read = store.get("outcomes");
      read.onsuccess = function () {
        store.put([outcome].concat(read.result || []).slice(0, KEPT_OUTCOMES), "outcomes");
      };
    }).then(changed);
  }

  // What the inspector is shown about one item; the page words it in its language.
  function outcomeOf(item, kind, extra) {
    return Object.assign({
      kind: kind, key: item.key, household_id: item.household_id || null,
      label: item.label || "", day: item.day || "", at: new Date().toISOString()
    }, extra || {});
  }

  function finish(item, outcome) {
    return addOutcome(outcome).then(function () { return remove(item.seq); }).then(function () { return true; });
  }

  // The token the queue is sent with: the one kept here, or a new one from the page.
  function bearer(options) {
    return getMeta("token").then(function (kept) {
      var fresh = kept && Date.parse(kept.expires_at) - Date.now() > 5 * 60 * 1000;
      var sameUser = kept && (!options.username || kept.username === options.username);
      if (fresh && sameUser) return kept;
      if (!options.newToken) return null;
      return options.newToken().then(function (issued) {
        return setMeta("token", issued).then(function () { return issued; });
      }, function () { return null; });
    });
  }

  function call(token, method, path, body, headers) {
    return fetch(path, {
      method: method, body: body, credentials: "omit",
      headers: Object.assign({ "Authorization": "Bearer " + token.token }, headers || {})
    });
  }

  function itemBody(item) {
    var body = { key: item.key, grade: item.grade };
    if (item.payload) body.payload = item.payload; else body.household_id = item.household_id;
    if (item.note) body.note = item.note;
    if (item.inspected_at) body.inspected_at = item.inspected_at;
    return body;
  }

  // One item sent alone, answered in the batch's shape: used if the batch is refused whole.
  function alone(token, item) {
    var body = itemBody(item);
    delete body.key;
    return call(token, "POST", "/api/v1/inspections", JSON.stringify(body), {
      "Content-Type": "application/json", "Idempotency-Key": item.key
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        return response.ok ? { status: response.status, inspection: answer }
          : { status: response.status, problem: answer };
      });
    });
  }

  // Decide what one answered item means; resolve false to keep it for later.
  function settle(item, result) {
    if (result.status === 401) return Promise.reject(new Error(LOGIN));
    if (result.status >= 500 || result.status === 429) return Promise.resolve(false);
    if (result.status < 300) {
      var done = outcomeOf(item, "credited", {
        points: result.inspection.points, balance: result.inspection.balance,
        inspection_id: result.inspection.id, grade: result.inspection.grade
      });
      if (!item.photo) return finish(item, done);
      item.inspection_id = result.inspection.id;
      item.credited = done;
      return put(item).then(function () { return true; });
    }
    var problem = result.problem || {};
    var kind = CODES[problem.code] || "refused";
    return finish(item, outcomeOf(item, kind, {
      code: problem.code || "", why: problem.detail || problem.title || String(result.status)
    }));
  }

  function settleAll(items, results) {
    return results.reduce(function (chain, result, n) {
      return chain.then(function (goOn) {
        return settle(items[n], result).then(function (ok) { return goOn && ok; });
      });
    }, Promise.resolve(true));
  }

  // The oldest grades (at most MAX_BATCH) in one request; each is decided on its own.
  function sendGrades(token, items) {
    var body = JSON.stringify({ items: items.map(itemBody) });
    return call(token, "POST", "/api/v1/inspections/batch", body, {
      "Content-Type": "application/json"
    }).then(function (response) {
      if (response.status === 401) throw new Error(LOGIN);
      if (response.status === 403) throw new Error(FORBIDDEN);
      if (response.status === 422) {
        // Refused whole (one item it cannot read): send them one by one instead.
        return items.reduce(function (chain, item) {
          return chain.then(function (results) {
            return alone(token, item).then(function (r) { return results.concat([r]); });
          });
        }, Promise.resolve([])).then(function (results) { return settleAll(items, results); });
      }
      if (!response.ok) return false;
      return response.json().then(function (answer) { return settleAll(items, answer.items); });
    });
  }

  // A credited grade's photo, after the grade (the inspection counts without it).
  function sendPhoto(token, item) {
    var form = new FormData();
    form.append("photo", item.photo, "photo.jpg");
    var path = "/api/v1/inspections/" + item.inspection_id + "/photo";
    return call(token, "POST", path, form, { "Idempotency-Key": item.key + ".p" }).then(function (response) {
      if (response.status === 401) throw new Error(LOGIN);
      if (response.status >= 500 || response.status === 429) return false;
      if (response.ok) return finish(item, item.credited);
      return response.json().catch(function () { return {}; }).then(function (problem) {
        var outcome = Object.assign({}, item.credited, {
          photo_code: problem.code || "",
          photo_refused: problem.detail || problem.title || String(response.status)
        });
        return finish(item, outcome);
      });
    });
  }

  // ---- Resident reports (cases): one item at a time, oldest first, each step under its
  // own key, so a replayed step is a no-op: a report, then its photo; an accept; a
  // resolve's after-photo, then the resolve (only after the photo's 201).
  var CASE_CODES = { idempotency_conflict: "sent" };

  function answered(response) {
    return response.json().catch(function () { return {}; }).then(function (body) {
      return { status: response.status, body: body };
    });
  }

  function caseOutcome(item, kind, extra) {
    return Object.assign({
      type: "case", kind: kind, op: item.op, key: item.key, case_id: item.case_id || null,
      label: item.label || "", at: new Date().toISOString()
    }, extra || {});
  }

  function problemOf(result) {
    var problem = result.body || {};
    return { code: problem.code || "", why: problem.detail || problem.title || String(result.status) };
  }

  // An answer that is not a success: resolve false (keep it for later), or finish the item
  // with the refusal shown, never to be retried.
  function caseRefused(item, result) {
    if (result.status === 401) return Promise.reject(new Error(LOGIN));
    if (result.status >= 500 || result.status === 429) return Promise.resolve(false);
    var problem = problemOf(result);
    return finish(item, caseOutcome(item, CASE_CODES[problem.code] || "refused", problem));
  }

  function caseJson(token, path, body, key) {
    return call(token, "POST", path, JSON.stringify(body), {
      "Content-Type": "application/json", "Idempotency-Key": key
    }).then(answered);
  }

  function casePhoto(token, item, stage) {
    var form = new FormData();
    form.append("file", item.photo, "photo.jpg");
    form.append("stage", stage);
    var path = "/api/v1/cases/" + item.case_id + "/photos";
    return call(token, "POST", path, form, { "Idempotency-Key": item.key + ".p" }).then(answered);
  }

  function sendReport(token, item) {
    if (!item.case_id) {
      var body = { category: item.category };
      if (item.description) body.description = item.description;
      if (item.anonymous) body.anonymous = true;
      return caseJson(token, "/api/v1/cases", body, item.key).then(function (result) {
        if (result.status >= 300) return caseRefused(item, result);
        item.case_id = result.body.id;
        item.label = result.body.code;
        if (!item.photo) return finish(item, caseOutcome(item, "reported"));
        return put(item).then(function () { return true; });
      });
    }
    return casePhoto(token, item, "before").then(function (result) {
      if (result.status < 300) return finish(item, caseOutcome(item, "reported"));
      if (result.status === 401 || result.status >= 500 || result.status === 429) {
        return caseRefused(item, result);
      }
      // The case is made; only its photo was refused: say so beside the report.
      var problem = problemOf(result);
      return finish(item, caseOutcome(item, "reported", {
        photo_code: problem.code, photo_refused: problem.why
      }));
    });
  }

  function caseEvent(token, item) {
    var body = { action: item.op };
    if (item.note) body.note = item.note;
    var path = "/api/v1/cases/" + item.case_id + "/events";
    return caseJson(token, path, body, item.key).then(function (result) {
      if (result.status >= 300) return caseRefused(item, result);
      return finish(item, caseOutcome(item, item.op === "accept" ? "accepted" : "resolved"));
    });
  }

  // A resolve's after-photo goes first, and only to a case still being fixed. A case no
  // longer being fixed gets no stray photo: the resolve alone goes, and the server
  // answers it (its own resolve, already made: replayed; else 409 invalid_transition).
  function sendResolve(token, item) {
    if (item.photo_sent || !item.photo) return caseEvent(token, item);
    var path = "/api/v1/cases/" + item.case_id;
    return call(token, "GET", path).then(answered).then(function (now) {
      if (now.status >= 300) return caseRefused(item, now);
      if (now.body.state !== "accepted") return caseEvent(token, item);
      return casePhoto(token, item, "after").then(function (result) {
        if (result.status >= 300) return caseRefused(item, result);
        item.photo_sent = true;
        return put(item).then(function () { return true; });
      });
    });
  }

  function sendCase(token, item) {
    if (item.op === "report") return sendReport(token, item);
    if (item.op === "resolve") return sendResolve(token, item);
    return caseEvent(token, item);
  }

  function sendAll(options, token) {
    return all().then(function (items) {
      // Items queued by someone else on this phone wait for them to log in.
      items = items.filter(function (i) { return !i.username || i.username === token.username; });
      var cases = items.filter(function (i) { return i.type === "case"; });
      items = items.filter(function (i) { return i.type !== "case"; });
      var grades = items.filter(function (i) { return !i.inspection_id; }).slice(0, MAX_BATCH);
      var photos = items.filter(function (i) { return i.inspection_id; });
      var step = grades.length ? sendGrades(token, grades)
        : photos.length ? sendPhoto(token, photos[0])
          : cases.length ? sendCase(token, cases[0]) : null;
      if (!step) return DONE;
      return step.then(function (progress) { return progress ? sendAll(options, token) : LATER; });
    });
  }

  // Send the queue: grades oldest first (in batches), then their photos. Resolves
  // "done" (nothing left to send), "later" (no signal or server busy), "login" or
  // "forbidden".
  // One sender at a time across the page and the worker (Web Locks where they exist);
  // a second one would do no harm (the keys make it credit once) but show outcomes twice.
  function send(options) {
    options = options || {};
    var work = function () {
      return bearer(options).then(function (token) {
        if (!token) return LOGIN;
        return sendAll(options, token);
      }).catch(function (error) {
        if (error && error.message === LOGIN) return deleteMeta("token").then(function () { return LOGIN; });
        if (error && error.message === FORBIDDEN) return FORBIDDEN;
        return LATER;
      });
    };
    var locks = scope.navigator && scope.navigator.locks;
    return locks ? locks.request("gp-send-queue", work) : work();
  }

  // Log the phone out of the API: revoke its token (when there is a signal) and forget
  // it, with the outcomes (they name households).
  function forget() {
    return getMeta("token").then(function (kept) {
      var revoked = kept ? call(kept, "DELETE", "/api/v1/auth/tokens/current").catch(function () {})
        : Promise.resolve();
      return revoked.then(function () {
        return Promise.all([deleteMeta("token"), deleteMeta("outcomes")]);
      });
    }).then(changed);
  }

  scope.GPQueue = {
    SYNC_TAG: "gp-send-queue",
    add: function (item) {
      return run(QUEUE, "readwrite", function (store) { return store.add(item); }).then(function (seq) {
        changed();
        return seq;
      });
    },
    put: put,
    all: all,
    remove: remove,
    send: send,
    forget: forget,
    outcomes: function () { return getMeta("outcomes").then(function (list) { return list || []; }); },
    setToken: function (token) { return setMeta("token", token).then(changed); },
    token: function (options) { return bearer(options || {}); },
    // The key a grade form's tap travels under when it is queued: the one the server
    // keeps the page's own request under (app/writes.py, page_key()). A tap whose page
    // request reached the server but whose answer was lost is then never credited again.
    pageKey: function (formKey) { return "page:" + formKey; },
    newKey: function () {
      var bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
    }
  };
})(self);
