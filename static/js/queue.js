// Green Points: the phone's queue of grades not yet sent, in IndexedDB.
// Used by the page (inspect.js) and by the service worker (sw.js), so both see one queue.
(function (scope) {
  "use strict";
  var DB = "greenpoints";
  var STORE = "queue";
  var opening = null;

  function open() {
    if (!opening) {
      opening = new Promise(function (resolve, reject) {
        var request = indexedDB.open(DB, 1);
        request.onupgradeneeded = function () {
          // seq keeps the order of the taps: the queue is sent oldest first.
          request.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
        };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { opening = null; reject(request.error); };
      });
    }
    return opening;
  }

  function run(mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var result = work(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(result && "result" in result ? result.result : result); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  scope.GPQueue = {
    add: function (item) { return run("readwrite", function (store) { return store.add(item); }); },
    put: function (item) { return run("readwrite", function (store) { return store.put(item); }); },
    all: function () { return run("readonly", function (store) { return store.getAll(); }); },
    remove: function (seq) { return run("readwrite", function (store) { store.delete(seq); }); },
    newKey: function () {
      var bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
    }
  };
})(self);
