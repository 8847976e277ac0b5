// Green Points inspector app: the grades waiting on this phone. A grade tapped offline
// (or whose request fails) goes into the queue (queue.js) with its Idempotency-Key made
// at the tap; the queue is sent when the signal returns (the online event, a retry with
// backoff, and Background Sync in the service worker where the browser has it), and the
// page shows how many wait and each outcome (outcomes.js).
import * as queue from "../queue.js";
import { $, msg, root, tokenOptions, username } from "./page.js";
import { showAll } from "./outcomes.js";
import { villageToday } from "./roster.js";

const FIRST_RETRY_MS = 2000;
let sending = false;
let retryDelay = FIRST_RETRY_MS;
let retryTimer = null;

// The queue's count, its outcomes, and the page's lists; resolves with the items waiting.
export async function refresh() {
  const items = await queue.all();
  const statusLine = $("[data-queue-status]");
  statusLine.hidden = items.length === 0;
  statusLine.textContent = msg(sending ? "sending" : "queued", { n: items.length });
  await showAll(items);
  return items;
}

function later() {
  if (retryTimer) return;
  retryTimer = setTimeout(() => { retryTimer = null; send(); }, retryDelay);
  retryDelay = Math.min(retryDelay * 2, 60000);
}

export function sendSoon() {
  retryDelay = FIRST_RETRY_MS;
  return send();
}

// Send the queue now (queue.js does it, one sender at a time with the worker).
export async function send() {
  if (!navigator.onLine) return undefined;
  sending = true;
  await refresh();
  const state = await queue.send(tokenOptions());
  sending = false;
  $("[data-forbidden]").hidden = state !== "forbidden";
  if (state === "login") $("[data-password]").hidden = false;
  else if (state === "later") later();
  else retryDelay = FIRST_RETRY_MS;
  return refresh();
}

// Ask the browser to send the queue when the signal returns, even with no page open.
async function syncLater() {
  if (!("serviceWorker" in navigator) || !root.dataset.sw) return;
  try {
    const registration = await navigator.serviceWorker.ready;
    if (!registration.sync) return;
    await registration.sync.register(queue.SYNC_TAG);
    root.dataset.sync = queue.SYNC_TAG;
  } catch (e) { /* the online event and the retries still send it */ }
}

// Queue a grade, from the offline panel or from the grade page.
export async function enqueue(item) {
  item.key = item.key || queue.newKey();
  item.inspected_at = new Date().toISOString();
  item.day = villageToday();
  item.username = username;
  await queue.add(item);
  await refresh();
  // Not waited for: a worker that is not ready yet must not hold the tap up.
  syncLater();
  if (navigator.onLine) send();
}

// A login that expired offline: the password asked here gives the queue a new token.
export function watchPassword() {
  const form = $("[data-password]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const field = form.querySelector("input[type=password]");
    const error = form.querySelector("[data-password-error]");
    try {
      const response = await fetch("/api/v1/auth/tokens", {
        method: "POST", credentials: "omit", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username, password: field.value })
      });
      if (!response.ok) { error.textContent = msg("wrong"); error.hidden = false; return; }
      const body = await response.json();
      field.value = "";
      error.hidden = true;
      form.hidden = true;
      await queue.setToken({ token: body.token, expires_at: body.expires_at, username: body.user.username });
      await send();
    } catch (e) { /* no signal: the form stays for another try */ }
  });
}
