// Green Points: a page that finds no one logged in (the login page after a session ended
// on another device, or the login was disabled) makes this phone forget what the
// inspector app keeps: the roster and outcomes (households' names and addresses), its
// API token (revoked first where there is a signal) and the kept /inspect page. Never
// the queue of grades not yet uploaded: they upload once their inspector logs in again.
(function () {
  "use strict";
  var DB = "greenpoints";
  var META = "meta";           // queue.js: the token and the outcomes, beside the queue
  var KEPT_PAGE = "/inspect";  // sw.js keeps it under this URL

  function wipeLocal() {
    var names = [];
    for (var i = 0; i < localStorage.length; i++) {
      var name = localStorage.key(i);
      if (name && name.indexOf("gp.") === 0) names.push(name);
    }
    names.forEach(function (name) { localStorage.removeItem(name); });
    return names.length > 0;
  }

  // Resolves true if a cache of the app was found.
  function wipeKeptPage() {
    if (!window.caches) return Promise.resolve(false);
    return caches.keys().then(function (names) {
      names = names.filter(function (name) { return name.indexOf("gp-inspect-") === 0; });
      return Promise.all(names.map(function (name) {
        return caches.open(name).then(function (cache) { return cache.delete(KEPT_PAGE); });
      })).then(function () { return names.length > 0; });
    });
  }

  // Opening a database that does not exist would make one: only open the app's own.
  function databaseExists(hint) {
    if (!window.indexedDB) return Promise.resolve(false);
    if (!indexedDB.databases) return Promise.resolve(hint);
    return indexedDB.databases().then(function (list) {
      return list.some(function (found) { return found.name === DB; });
    }, function () { return hint; });
  }

  function revoke(kept) {
    if (!kept || !kept.token || !navigator.onLine) return Promise.resolve();
    return fetch("/api/v1/auth/tokens/current", {
      method: "DELETE", credentials: "omit", headers: { "Authorization": "Bearer " + kept.token }
    }).catch(function () {});
  }

  // The token and the outcomes go; the queue's own store is never touched.
  function wipeDatabase() {
    return new Promise(function (resolve) {
      var request = indexedDB.open(DB);
      request.onerror = function () { resolve(); };
      request.onsuccess = function () {
        var db = request.result;
        if (!db.objectStoreNames.contains(META)) { db.close(); resolve(); return; }
        var tx = db.transaction(META, "readwrite");
        var store = tx.objectStore(META);
        var read = store.get("token");
        read.onsuccess = function () {
          store.delete("token");
          store.delete("outcomes");
        };
        tx.oncomplete = function () { db.close(); revoke(read.result).then(resolve); };
        tx.onerror = tx.onabort = function () { db.close(); resolve(); };
      };
    });
  }

  var hadLocal = wipeLocal();
  wipeKeptPage().then(function (hadCache) {
    return databaseExists(hadLocal || hadCache);
  }).then(function (exists) {
    return exists ? wipeDatabase() : null;
  }).catch(function () {}).then(function () {
    if ("BroadcastChannel" in window) new BroadcastChannel("gp-queue").postMessage("changed");
    document.documentElement.setAttribute("data-forgotten", "");
  });
})();
