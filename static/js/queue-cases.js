// Green Points: resident reports (cases) in the phone's queue (queue.js sends them): one
// item at a time, oldest first, each step under its own key, so a replayed step is a
// no-op: a report, then its photo; an accept; a resolve's after-photo, then the resolve
// (only after the photo's 201).
import { LOGIN, call, finish, put } from "./queue-store.js";

async function answered(response) {
  const body = await response.json().catch(() => ({}));
  return { status: response.status, body };
}

function caseOutcome(item, kind, extra) {
  return Object.assign({
    type: "case", kind, op: item.op, key: item.key, case_id: item.case_id || null,
    label: item.label || "", at: new Date().toISOString()
  }, extra || {});
}

function problemOf(result) {
  const problem = result.body || {};
  return { code: problem.code || "", why: problem.detail || problem.title || String(result.status) };
}

// An answer that is not a success: false (keep it for later), or finish the item with
// the refusal shown (as the server's codes say: outcomes), never to be retried.
async function caseRefused(item, result, outcomes) {
  if (result.status === 401) throw new Error(LOGIN);
  if (result.status >= 500 || result.status === 429) return false;
  const problem = problemOf(result);
  return finish(item, caseOutcome(item, outcomes[problem.code] || "refused", problem));
}

async function caseJson(token, path, body, key) {
  return answered(await call(token, "POST", path, JSON.stringify(body), {
    "Content-Type": "application/json", "Idempotency-Key": key
  }));
}

async function casePhoto(token, item, stage) {
  const form = new FormData();
  form.append("file", item.photo, "photo.jpg");
  form.append("stage", stage);
  const path = "/api/v1/cases/" + item.case_id + "/photos";
  return answered(await call(token, "POST", path, form, { "Idempotency-Key": item.key + ".p" }));
}

async function sendReport(token, item, outcomes) {
  if (!item.case_id) {
    const body = { category: item.category };
    if (item.description) body.description = item.description;
    if (item.anonymous) body.anonymous = true;
    const result = await caseJson(token, "/api/v1/cases", body, item.key);
    if (result.status >= 300) return caseRefused(item, result, outcomes);
    item.case_id = result.body.id;
    item.label = result.body.code;
    if (!item.photo) return finish(item, caseOutcome(item, "reported"));
    await put(item);
    return true;
  }
  const result = await casePhoto(token, item, "before");
  if (result.status < 300) return finish(item, caseOutcome(item, "reported"));
  if (result.status === 401 || result.status >= 500 || result.status === 429) {
    return caseRefused(item, result, outcomes);
  }
  // The case is made; only its photo was refused: say so beside the report.
  const problem = problemOf(result);
  return finish(item, caseOutcome(item, "reported", {
    photo_code: problem.code, photo_refused: problem.why
  }));
}

async function caseEvent(token, item, outcomes) {
  const body = { action: item.op };
  if (item.note) body.note = item.note;
  const path = "/api/v1/cases/" + item.case_id + "/events";
  const result = await caseJson(token, path, body, item.key);
  if (result.status >= 300) return caseRefused(item, result, outcomes);
  return finish(item, caseOutcome(item, item.op === "accept" ? "accepted" : "resolved"));
}

// A resolve's after-photo goes first, and only to a case still being fixed. A case no
// longer being fixed gets no stray photo: the resolve alone goes, and the server
// answers it (its own resolve, already made: replayed; else 409 invalid_transition).
async function sendResolve(token, item, outcomes) {
  if (item.photo_sent || !item.photo) return caseEvent(token, item, outcomes);
  const now = await answered(await call(token, "GET", "/api/v1/cases/" + item.case_id));
  if (now.status >= 300) return caseRefused(item, now, outcomes);
  if (now.body.state !== "accepted") return caseEvent(token, item, outcomes);
  const result = await casePhoto(token, item, "after");
  if (result.status >= 300) return caseRefused(item, result, outcomes);
  item.photo_sent = true;
  await put(item);
  return true;
}

// Send one case item; true when it moved on, false to keep it for later.
export function sendCase(token, item, outcomes) {
  if (item.op === "report") return sendReport(token, item, outcomes);
  if (item.op === "resolve") return sendResolve(token, item, outcomes);
  return caseEvent(token, item, outcomes);
}
