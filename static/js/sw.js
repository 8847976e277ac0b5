// Green Points: the inspector app's service worker (hand-written, no library).
// Keeps /inspect, its CSS and scripts, the QR decoder and the icons, so the scanner
// opens without a signal; a grade form that cannot be sent goes into the queue, and
// Background Sync (where the browser has it) sends the queue with no page open.
// A module worker (registered with type "module": inspect.js): it imports queue.js as
// the pages do, under the hashed URL the server links it to (app/static_files.py).
// A module worker may not import() at run time: its one import is static.
import * as queue from "./queue.js";

// The server's word on keys and refusals (roster.py, queue_protocol()).
queue.configure(/*PROTOCOL*/{});
// Each script of the app with the modules it imports (roster.py, OFFLINE_ASSETS).
var ASSETS = /*ASSETS*/[];
// Kept only when a page asks for it (the QR decoder, on phones with no native one).
var ON_DEMAND = /*ON_DEMAND*/[];
const SHELL = "/inspect";
// The 待办 list of resident reports, kept as last opened: the worker accepts and resolves
// from it without a signal (cases-offline.js puts the taps in the queue).
const TODO = "/inspect/cases";
const TEXTS = "/inspect/texts.js";
const CACHE = "gp-inspect-" + Array.from(ASSETS.concat(ON_DEMAND).join("|"))
  .reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 7).toString(36);

async function keepShell(cache) {
  try {
    const response = await fetch(SHELL, { credentials: "same-origin" });
    if (response.ok && !response.redirected) await cache.put(SHELL, response);
  } catch (e) { /* kept when the page is next opened */ }
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(ASSETS);
    await keepShell(cache);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const old = (await caches.keys()).filter((name) => name.indexOf("gp-inspect-") === 0 && name !== CACHE);
    await Promise.all(old.map((name) => caches.delete(name)));
    await self.clients.claim();
  })());
});

// A navigation is fetched with redirect: "manual": a redirect to the login page comes back
// as an opaque one, without its address. Of the app's pages only a scanned card's link
// redirects a logged-in inspector; any other redirect means the session has ended.
function loggedOut(url, response) {
  if (response.type === "opaqueredirect") return url.pathname !== "/inspect/card";
  return response.redirected && new URL(response.url).pathname === "/login";
}

async function kept(path) {
  return (await caches.open(CACHE)).match(path);
}

// Without a signal a case's page opens the kept 待办 list, any other page the scanner.
async function keptOrError(url) {
  const todo = url.pathname.indexOf(TODO) === 0 ? await kept(TODO) : null;
  return todo || (await kept(SHELL)) || Response.error();
}

// A grade form posted without a signal: keep it in the queue, go back to scanning.
async function queueForm(request, householdId) {
  const form = await request.formData();
  const photo = form.get("photo");
  await queue.add({
    key: form.get("key") ? queue.pageKey(String(form.get("key"))) : queue.newKey(),
    household_id: householdId,
    grade: String(form.get("grade") || ""),
    note: String(form.get("note") || ""),
    photo: photo && photo.size ? photo : null,
    inspected_at: new Date().toISOString(),
    label: ""
  });
  const sync = self.registration.sync;
  if (sync) await sync.register(queue.SYNC_TAG).catch(() => {});
  return Response.redirect(SHELL + "?queued=1", 303);
}

// The signal is back (the browser decides): send the queue with the token the page left.
// A failure tells the browser to try again later; a missing login waits for the page.
self.addEventListener("sync", (event) => {
  if (event.tag !== queue.SYNC_TAG) return;
  event.waitUntil((async () => {
    if ((await queue.send()) === "later") throw new Error("The queue was not sent: try again later.");
  })());
});

// Kept as first fetched: an asset (named by its content), or the app's words (?v=).
async function keptAsFetched(request, key) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(key);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok) cache.put(key, response.clone());
  return response;
}

// A page of the app: from the network, kept (the scanner, the 待办 list) for offline.
async function page(request, url) {
  let response;
  try { response = await fetch(request); } catch (e) { return keptOrError(url); }
  const keep = url.pathname === SHELL || url.pathname === TODO;
  if (keep && response.ok && !response.redirected) {
    const copy = response.clone();
    caches.open(CACHE).then((cache) => cache.put(url.pathname, copy));
  } else if (loggedOut(url, response)) {
    // Logged out: the kept pages (names, addresses) go too.
    caches.open(CACHE).then((cache) => Promise.all([cache.delete(SHELL), cache.delete(TODO)]));
  }
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const grading = /^\/inspect\/household\/(\d+)$/.exec(url.pathname);
  if (request.mode === "navigate" && request.method === "POST" && grading) {
    const copy = request.clone();
    event.respondWith(fetch(request).catch(() => queueForm(copy, Number(grading[1]))));
    return;
  }
  if (request.method !== "GET") return;
  if (url.pathname === TEXTS) {
    event.respondWith(keptAsFetched(request, request));
  } else if (request.mode === "navigate" && url.pathname.indexOf(SHELL) === 0) {
    event.respondWith(page(request, url));
  } else if (ASSETS.includes(url.pathname) || ON_DEMAND.includes(url.pathname)) {
    event.respondWith(keptAsFetched(request, url.pathname));
  }
});

// A page asks to keep an asset it will need offline (inspect/scanning.js: the QR
// decoder); the answer goes back on the port it sent, once the asset is kept.
self.addEventListener("message", (event) => {
  const wanted = event.data && event.data.keep;
  if (!ON_DEMAND.includes(wanted)) return;
  const port = event.ports && event.ports[0];
  event.waitUntil((async () => {
    let state = "kept";
    try {
      const cache = await caches.open(CACHE);
      if (!(await cache.match(wanted))) await cache.add(wanted);
    } catch (e) { state = "failed"; }
    if (port) port.postMessage(state);
  })());
});
