// Green Points: the inspector app's service worker (hand-written, no library).
// Keeps /inspect, its CSS and scripts, the QR decoder and the icons, so the scanner
// opens without a signal; a grade form that cannot be sent goes into the queue, and
// Background Sync (where the browser has it) sends the queue with no page open.
// A module worker (registered with type "module": inspect.js): it imports queue.js as
// the pages do, under the hashed URL the server links it to (app/static_files.py).
import * as queue from "./queue.js";

// The server's word on keys and refusals (roster.py, queue_protocol()).
queue.configure(/*PROTOCOL*/{});
// Each script of the app with the modules it imports (roster.py, OFFLINE_ASSETS).
var ASSETS = /*ASSETS*/[];
// Kept only when a page asks for it (the QR decoder, on phones with no native one).
var ON_DEMAND = /*ON_DEMAND*/[];
var SHELL = "/inspect";
// The 待办 list of resident reports, kept as last opened: the worker accepts and resolves
// from it without a signal (cases-offline.js puts the taps in the queue).
var TODO = "/inspect/cases";
var TEXTS = "/inspect/texts.js";
var CACHE = "gp-inspect-" + ASSETS.concat(ON_DEMAND).join("|").split("").reduce(function (h, c) {
  return (h * 31 + c.charCodeAt(0)) | 0;
}, 7).toString(36);

function keepShell(cache) {
  return fetch(SHELL, { credentials: "same-origin" }).then(function (response) {
    if (response.ok && !response.redirected) return cache.put(SHELL, response);
  }).catch(function () {});
}

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return cache.addAll(ASSETS).then(function () { return keepShell(cache); });
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("gp-inspect-") === 0 && name !== CACHE;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

// A navigation is fetched with redirect: "manual": a redirect to the login page comes back
// as an opaque one, without its address. Of the app's pages only a scanned card's link
// redirects a logged-in inspector; any other redirect means the session has ended.
function loggedOut(url, response) {
  if (response.type === "opaqueredirect") return url.pathname !== "/inspect/card";
  return response.redirected && new URL(response.url).pathname === "/login";
}

function shellOrError() {
  return caches.open(CACHE).then(function (cache) { return cache.match(SHELL); })
    .then(function (response) { return response || Response.error(); });
}

// Without a signal a case's page opens the kept 待办 list, any other page the scanner.
function keptOrError(url) {
  if (url.pathname.indexOf(TODO) !== 0) return shellOrError();
  return caches.open(CACHE).then(function (cache) { return cache.match(TODO); })
    .then(function (response) { return response || shellOrError(); });
}

// A grade form posted without a signal: keep it in the queue, go back to scanning.
function queueForm(request, householdId) {
  return request.formData().then(function (form) {
    var photo = form.get("photo");
    return queue.add({
      key: form.get("key") ? queue.pageKey(String(form.get("key"))) : queue.newKey(),
      household_id: householdId,
      grade: String(form.get("grade") || ""),
      note: String(form.get("note") || ""),
      photo: photo && photo.size ? photo : null,
      inspected_at: new Date().toISOString(),
      label: ""
    });
  }).then(function () {
    var sync = self.registration.sync;
    return sync ? sync.register(queue.SYNC_TAG).catch(function () {}) : null;
  }).then(function () { return Response.redirect(SHELL + "?queued=1", 303); });
}

// The signal is back (the browser decides): send the queue with the token the page left.
// A failure tells the browser to try again later; a missing login waits for the page.
self.addEventListener("sync", function (event) {
  if (event.tag !== queue.SYNC_TAG) return;
  event.waitUntil(queue.send().then(function (state) {
    if (state === "later") throw new Error("The queue was not sent: try again later.");
  }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  var grading = /^\/inspect\/household\/(\d+)$/.exec(url.pathname);
  if (request.mode === "navigate" && request.method === "POST" && grading) {
    var copy = request.clone();
    event.respondWith(fetch(request).catch(function () {
      return queueForm(copy, Number(grading[1]));
    }));
    return;
  }
  if (request.method !== "GET") return;
  if (url.pathname === TEXTS) {
    // The app's words, named by their content (?v=): kept as first fetched.
    event.respondWith(caches.open(CACHE).then(function (cache) {
      return cache.match(request).then(function (hit) {
        return hit || fetch(request).then(function (response) {
          if (response.ok) cache.put(request, response.clone());
          return response;
        });
      });
    }));
    return;
  }
  if (request.mode === "navigate" && url.pathname.indexOf(SHELL) === 0) {
    event.respondWith(fetch(request).then(function (response) {
      var keep = url.pathname === SHELL || url.pathname === TODO;
      if (keep && response.ok && !response.redirected) {
        var kept = response.clone();
        caches.open(CACHE).then(function (cache) { return cache.put(url.pathname, kept); });
      } else if (loggedOut(url, response)) {
        // Logged out: the kept pages (names, addresses) go too.
        caches.open(CACHE).then(function (cache) {
          return Promise.all([cache.delete(SHELL), cache.delete(TODO)]);
        });
      }
      return response;
    }, function () { return keptOrError(url); }));
    return;
  }
  if (ASSETS.indexOf(url.pathname) >= 0 || ON_DEMAND.indexOf(url.pathname) >= 0) {
    event.respondWith(caches.open(CACHE).then(function (cache) {
      return cache.match(url.pathname).then(function (hit) {
        return hit || fetch(request).then(function (response) {
          if (response.ok) cache.put(url.pathname, response.clone());
          return response;
        });
      });
    }));
  }
});

// A page asks to keep an asset it will need offline (inspect.js: the QR decoder); the
// answer goes back on the port it sent, once the asset is kept.
self.addEventListener("message", function (event) {
  var wanted = event.data && event.data.keep;
  if (ON_DEMAND.indexOf(wanted) < 0) return;
  var port = event.ports && event.ports[0];
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return cache.match(wanted).then(function (hit) { return hit || cache.add(wanted); });
  }).then(function () { return "kept"; }, function () { return "failed"; }).then(function (state) {
    if (port) port.postMessage(state);
  }));
});
