// Green Points: a page that finds no one logged in (the login page after a session ended
// on another device, or the login was disabled) makes this phone forget what the
// inspector app keeps: the roster and outcomes (households' names and addresses), its
// API token (revoked first where there is a signal) and the kept /inspect page. Never
// the queue of grades not yet uploaded: they upload once their inspector logs in again.
// It does not import queue.js: opening the queue's database would make one.
const DB = "greenpoints";
const META = "meta"; // queue-store.js: the token and the outcomes, beside the queue
const KEPT_PAGE = "/inspect"; // sw.js keeps it under this URL

function wipeLocal() {
  const names = [];
  for (let i = 0; i < localStorage.length; i++) {
    const name = localStorage.key(i);
    if (name && name.indexOf("gp.") === 0) names.push(name);
  }
  names.forEach((name) => localStorage.removeItem(name));
  return names.length > 0;
}

// True if a cache of the app was found.
async function wipeKeptPage() {
  if (!window.caches) return false;
  const names = (await caches.keys()).filter((name) => name.indexOf("gp-inspect-") === 0);
  await Promise.all(names.map(async (name) => (await caches.open(name)).delete(KEPT_PAGE)));
  return names.length > 0;
}

// Opening a database that does not exist would make one: only open the app's own.
async function databaseExists(hint) {
  if (!window.indexedDB) return false;
  if (!indexedDB.databases) return hint;
  try {
    return (await indexedDB.databases()).some((found) => found.name === DB);
  } catch (e) { return hint; }
}

async function revoke(kept) {
  if (!kept || !kept.token || !navigator.onLine) return;
  await fetch("/api/v1/auth/tokens/current", {
    method: "DELETE", credentials: "omit", headers: { "Authorization": "Bearer " + kept.token }
  }).catch(() => {});
}

// The token and the outcomes go; the queue's own store is never touched.
function wipeDatabase() {
  return new Promise((resolve) => {
    const request = indexedDB.open(DB);
    request.onerror = () => resolve();
    request.onsuccess = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(META)) { db.close(); resolve(); return; }
      const tx = db.transaction(META, "readwrite");
      const store = tx.objectStore(META);
      const read = store.get("token");
      read.onsuccess = () => {
        store.delete("token");
        store.delete("outcomes");
      };
      tx.oncomplete = () => { db.close(); revoke(read.result).then(resolve); };
      tx.onerror = tx.onabort = () => { db.close(); resolve(); };
    };
  });
}

async function forget() {
  const hadLocal = wipeLocal();
  try {
    const hadCache = await wipeKeptPage();
    if (await databaseExists(hadLocal || hadCache)) await wipeDatabase();
  } catch (e) { /* what could be forgotten is */ }
  if ("BroadcastChannel" in window) new BroadcastChannel("gp-queue").postMessage("changed");
  document.documentElement.setAttribute("data-forgotten", "");
}

forget();
