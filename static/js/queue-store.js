// Green Points: where the phone's queue lives (IndexedDB "greenpoints"): the writes not
// yet sent, oldest first, and beside them the bearer token and the outcomes shown.
// queue.js sends what is kept here; pages and the worker see the same store.

const DB = "greenpoints";
const QUEUE = "queue";
const META = "meta"; // the bearer token, and the outcomes shown to the inspector
const KEPT_OUTCOMES = 30;
export const LATER = "later"; // no signal, or the server is busy: try again later
export const LOGIN = "login"; // no valid token: the page asks for the password

let opening = null;
let channel = null;

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB, 2);
      request.onupgradeneeded = () => {
        const db = request.result;
        // seq keeps the order of the taps: the queue is sent oldest first.
        if (!db.objectStoreNames.contains(QUEUE)) {
          db.createObjectStore(QUEUE, { keyPath: "seq", autoIncrement: true });
        }
        if (!db.objectStoreNames.contains(META)) db.createObjectStore(META);
      };
      request.onsuccess = () => {
        const db = request.result;
        // A newer page or worker upgrades the database: let it.
        db.onversionchange = () => { db.close(); opening = null; };
        resolve(db);
      };
      request.onerror = () => { opening = null; reject(request.error); };
    });
  }
  return opening;
}

async function run(store, mode, work) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, mode);
    const result = work(tx.objectStore(store));
    tx.oncomplete = () => resolve(result && "result" in result ? result.result : result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

// Tell the pages that the queue or its outcomes changed (a worker may have sent it).
export function changed() {
  if (!("BroadcastChannel" in globalThis)) return;
  channel = channel || new BroadcastChannel("gp-queue");
  channel.postMessage("changed");
}

export const getMeta = (name) => run(META, "readonly", (store) => store.get(name));
export const setMeta = (name, value) => run(META, "readwrite", (store) => { store.put(value, name); });
export const deleteMeta = (name) => run(META, "readwrite", (store) => { store.delete(name); });

export const all = () => run(QUEUE, "readonly", (store) => store.getAll());
export const put = (item) => run(QUEUE, "readwrite", (store) => { store.put(item); });

export async function remove(seq) {
  await run(QUEUE, "readwrite", (store) => { store.delete(seq); });
  changed();
}

export async function add(item) {
  const seq = await run(QUEUE, "readwrite", (store) => store.add(item));
  changed();
  return seq;
}

export async function outcomes() {
  return (await getMeta("outcomes")) || [];
}

async function addOutcome(outcome) {
  await run(META, "readwrite", (store) => {
    const read = store.get("outcomes");
    read.onsuccess = () => {
      store.put([outcome].concat(read.result || []).slice(0, KEPT_OUTCOMES), "outcomes");
    };
  });
  changed();
}

// An item is done with: its outcome is kept to be shown, and it leaves the queue.
export async function finish(item, outcome) {
  await addOutcome(outcome);
  await remove(item.seq);
  return true;
}

// A request to the API with the queue's bearer token (the API takes no cookies).
export function call(token, method, path, body, headers) {
  return fetch(path, {
    method, body, credentials: "omit",
    headers: Object.assign({ "Authorization": "Bearer " + token.token }, headers || {})
  });
}

// A new Idempotency-Key, made at the tap.
export function newKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => (b + 256).toString(16).slice(1)).join("");
}
