// Green Points: the phone's queue of writes not yet sent, and the one function that
// sends it. Imported by the pages (inspect.js, cases-offline.js, logout.js) and by the
// service worker (sw.js, for Background Sync), so all see one queue (queue-store.js)
// and send it the same way. It holds the inspector's grades, and the resident reports'
// writes (type "case": queue-cases.js), each with its Idempotency-Key made at the tap.
//
// What the server decides is handed over by configure(): the prefix of a page form's key
// (app/writes.py PAGE_KEY_PREFIX) and the refusal codes with the outcome each shows
// (app/inspections/roster.py QUEUE_OUTCOMES). A page reads them from its data attributes
// (configureFrom()); the server writes them into the worker.
import { sendCase } from "./queue-cases.js";
import {
  LATER, LOGIN, add, all, call, changed, deleteMeta, finish, getMeta, newKey, outcomes, put,
  remove, setMeta
} from "./queue-store.js";

export { add, all, newKey, outcomes, put, remove };

export const SYNC_TAG = "gp-send-queue";
const MAX_BATCH = 100; // POST /api/v1/inspections/batch takes at most this many
// The server refuses this user's grades whole (the role was changed since the login):
// the grades stay queued, and the page says why instead of retrying in silence.
const FORBIDDEN = "forbidden";
const DONE = "done";

let protocol = { pageKeyPrefix: null, outcomes: {} };

// The server's word on keys and refusals: { pageKeyPrefix, outcomes }.
export function configure(given) {
  protocol = { pageKeyPrefix: given.pageKeyPrefix, outcomes: given.outcomes || {} };
}

// The same, read from an element's data-page-key-prefix and data-queue-outcomes.
export function configureFrom(element) {
  configure({
    pageKeyPrefix: element.dataset.pageKeyPrefix,
    outcomes: JSON.parse(element.dataset.queueOutcomes || "{}")
  });
}

// The key a form's tap travels under when it is queued: the one the server keeps the
// page's own request under (app/writes.py, page_key()). A tap whose page request reached
// the server but whose answer was lost is then never written again.
export function pageKey(formKey) {
  if (protocol.pageKeyPrefix == null) throw new Error("queue.js: configure() first");
  return protocol.pageKeyPrefix + formKey;
}

// What the inspector is shown about one item; the page words it in its language.
function outcomeOf(item, kind, extra) {
  return Object.assign({
    kind, key: item.key, household_id: item.household_id || null,
    label: item.label || "", day: item.day || "", at: new Date().toISOString()
  }, extra || {});
}

// The token the queue is sent with: the one kept here, or a new one from the page.
async function bearer(options) {
  const kept = await getMeta("token");
  const fresh = kept && Date.parse(kept.expires_at) - Date.now() > 5 * 60 * 1000;
  const sameUser = kept && (!options.username || kept.username === options.username);
  if (fresh && sameUser) return kept;
  if (!options.newToken) return null;
  let issued;
  try { issued = await options.newToken(); } catch (e) { return null; }
  await setMeta("token", issued);
  return issued;
}

export const token = (options) => bearer(options || {});

export async function setToken(given) {
  await setMeta("token", given);
  changed();
}

function itemBody(item) {
  const body = { key: item.key, grade: item.grade };
  if (item.payload) body.payload = item.payload; else body.household_id = item.household_id;
  if (item.note) body.note = item.note;
  if (item.inspected_at) body.inspected_at = item.inspected_at;
  return body;
}

// One item sent alone, answered in the batch's shape: used if the batch is refused whole.
async function alone(token, item) {
  const body = itemBody(item);
  delete body.key;
  const response = await call(token, "POST", "/api/v1/inspections", JSON.stringify(body), {
    "Content-Type": "application/json", "Idempotency-Key": item.key
  });
  const answer = await response.json().catch(() => ({}));
  return response.ok ? { status: response.status, inspection: answer }
    : { status: response.status, problem: answer };
}

// Decide what one answered item means; false keeps it for later.
async function settle(item, result) {
  if (result.status === 401) throw new Error(LOGIN);
  if (result.status >= 500 || result.status === 429) return false;
  if (result.status < 300) {
    const done = outcomeOf(item, "credited", {
      points: result.inspection.points, balance: result.inspection.balance,
      inspection_id: result.inspection.id, grade: result.inspection.grade
    });
    if (!item.photo) return finish(item, done);
    item.inspection_id = result.inspection.id;
    item.credited = done;
    await put(item);
    return true;
  }
  const problem = result.problem || {};
  const kind = protocol.outcomes[problem.code] || "refused";
  return finish(item, outcomeOf(item, kind, {
    code: problem.code || "", why: problem.detail || problem.title || String(result.status)
  }));
}

async function settleAll(items, results) {
  let goOn = true;
  for (let n = 0; n < results.length; n++) goOn = (await settle(items[n], results[n])) && goOn;
  return goOn;
}

// The oldest grades (at most MAX_BATCH) in one request; each is decided on its own.
async function sendGrades(token, items) {
  const body = JSON.stringify({ items: items.map(itemBody) });
  const response = await call(token, "POST", "/api/v1/inspections/batch", body, {
    "Content-Type": "application/json"
  });
  if (response.status === 401) throw new Error(LOGIN);
  if (response.status === 403) throw new Error(FORBIDDEN);
  if (response.status === 422) {
    // Refused whole (one item it cannot read): send them one by one instead.
    const results = [];
    for (const item of items) results.push(await alone(token, item));
    return settleAll(items, results);
  }
  if (!response.ok) return false;
  return settleAll(items, (await response.json()).items);
}

// A credited grade's photo, after the grade (the inspection counts without it).
async function sendPhoto(token, item) {
  const form = new FormData();
  form.append("photo", item.photo, "photo.jpg");
  const path = "/api/v1/inspections/" + item.inspection_id + "/photo";
  const response = await call(token, "POST", path, form, { "Idempotency-Key": item.key + ".p" });
  if (response.status === 401) throw new Error(LOGIN);
  if (response.status >= 500 || response.status === 429) return false;
  if (response.ok) return finish(item, item.credited);
  const problem = await response.json().catch(() => ({}));
  return finish(item, Object.assign({}, item.credited, {
    photo_code: problem.code || "",
    photo_refused: problem.detail || problem.title || String(response.status)
  }));
}

async function sendAll(token) {
  for (;;) {
    // Items queued by someone else on this phone wait for them to log in.
    const items = (await all()).filter((i) => !i.username || i.username === token.username);
    const cases = items.filter((i) => i.type === "case");
    const own = items.filter((i) => i.type !== "case");
    const grades = own.filter((i) => !i.inspection_id).slice(0, MAX_BATCH);
    const photos = own.filter((i) => i.inspection_id);
    let progress;
    if (grades.length) progress = await sendGrades(token, grades);
    else if (photos.length) progress = await sendPhoto(token, photos[0]);
    else if (cases.length) progress = await sendCase(token, cases[0], protocol.outcomes);
    else return DONE;
    if (!progress) return LATER;
  }
}

// Send the queue: grades oldest first (in batches), then their photos, then the cases.
// Resolves "done" (nothing left to send), "later" (no signal or server busy), "login" or
// "forbidden". One sender at a time across the page and the worker (Web Locks where they
// exist); a second one would do no harm (the keys make it credit once) but show outcomes
// twice.
export function send(options) {
  options = options || {};
  const work = async () => {
    try {
      const token = await bearer(options);
      return token ? await sendAll(token) : LOGIN;
    } catch (error) {
      if (error && error.message === LOGIN) { await deleteMeta("token"); return LOGIN; }
      if (error && error.message === FORBIDDEN) return FORBIDDEN;
      return LATER;
    }
  };
  const locks = globalThis.navigator && globalThis.navigator.locks;
  return locks ? locks.request("gp-send-queue", work) : work();
}

// Log the phone out of the API: revoke its token (when there is a signal) and forget
// it, with the outcomes (they name households).
export async function forget() {
  const kept = await getMeta("token");
  if (kept) await call(kept, "DELETE", "/api/v1/auth/tokens/current").catch(() => {});
  await Promise.all([deleteMeta("token"), deleteMeta("outcomes")]);
  changed();
}
