// Green Points inspector app: the roster of the inspector's grids, kept on the phone
// (localStorage) for lookups where the signal drops, and kept fresh cheaply.
import * as queue from "../queue.js";
import { $, load, msg, save, tokenOptions, username } from "./page.js";

// Asked again at most every few minutes (this phone's own grades are written into it as
// they are recorded), and then with its ETag: an unchanged roster costs a 304, no body.
const ROSTER_FRESH_MS = 5 * 60 * 1000;

export function roster() {
  const r = load("roster");
  // Another inspector's roster (a shared phone) is not this one's.
  return r && (!username || r.username === username) ? r : null;
}

// The village's date of a moment (the roster carries the village's time zone).
export function dayOf(moment) {
  const r = roster();
  try {
    return new Intl.DateTimeFormat("en-CA", { timeZone: (r && r.timezone) || undefined }).format(moment);
  } catch (e) { return moment.toISOString().slice(0, 10); }
}

export const villageToday = () => dayOf(new Date());

export function findHousehold(id) {
  const r = roster();
  return (r && r.items.find((h) => h.id === id)) || null;
}

export const labelOf = (h) => (h ? h.code + " " + h.name : "");

export function showRoster() {
  const r = roster();
  const line = $("[data-roster-status]");
  if (!line) return;
  if (!r) { line.textContent = msg("noroster"); return; }
  const when = new Date(r.fetched_at);
  line.textContent = msg("roster", {
    n: r.items.length,
    when: when.toLocaleDateString() + " " + when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
  });
}

function rosterFresh(r) {
  return r && r.etag && r.checked_at && r.today === villageToday() &&
    Math.abs(Date.now() - r.checked_at) < ROSTER_FRESH_MS;
}

export async function fetchRoster(force) {
  const kept = roster();
  if (!force && rosterFresh(kept)) return;
  try {
    const token = await queue.token(tokenOptions());
    if (!token) return;
    const headers = { "Authorization": "Bearer " + token.token };
    if (kept && kept.etag) headers["If-None-Match"] = kept.etag;
    const response = await fetch("/api/v1/roster", { headers, credentials: "omit", cache: "no-store" });
    if (response.status === 304) {
      kept.checked_at = Date.now();
      kept.fetched_at = new Date().toISOString();
      save("roster", kept);
      showRoster();
      return;
    }
    if (!response.ok) return;
    const body = await response.json();
    body.etag = response.headers.get("ETag");
    body.checked_at = Date.now();
    save("roster", body);
    showRoster();
  } catch (e) { /* no signal: the kept roster stays */ }
}

// The done page: this phone's grade, written into the kept roster (no new download).
export function noteRecorded() {
  const recorded = document.querySelector("[data-recorded]");
  const r = load("roster");
  if (!recorded || !r || r.username !== username) return;
  const id = Number(recorded.getAttribute("data-recorded"));
  for (const h of r.items) {
    if (h.id !== id) continue;
    h.balance = Number(recorded.querySelector("[data-balance]").textContent);
    h.last_inspected_on = recorded.getAttribute("data-day");
  }
  save("roster", r);
}
