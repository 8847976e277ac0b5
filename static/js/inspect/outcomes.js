// Green Points inspector app: what became of the grades this phone sent, shown in the
// page's language, and written into the page's lists of today (my inspections, the day's
// summary, the households still to inspect).
import * as queue from "../queue.js";
import { $, msg, signed, why } from "./page.js";
import { findHousehold, labelOf, villageToday } from "./roster.js";

function who(o) {
  const h = o.household_id ? findHousehold(o.household_id) : null;
  return o.label || labelOf(h) || "#" + (o.household_id || "?");
}

function words(o) {
  if (o.kind === "credited") {
    const text = msg("credited", { who: who(o), points: signed(o.points), balance: o.balance });
    return o.photo_refused ? text + " " + msg("nophoto", { why: why(o.photo_code, o.photo_refused) }) : text;
  }
  if (o.kind === "refused") return msg("refused", { who: who(o), why: why(o.code, o.why) });
  return msg(o.kind, { who: who(o) });
}

export function showOutcomes(list) {
  const box = $("[data-outcomes]");
  box.textContent = "";
  // A case's outcomes are shown on the cases pages (cases-offline.js).
  for (const o of list.filter((item) => item.type !== "case")) {
    const li = document.createElement("li");
    li.textContent = words(o);
    li.className = "outcome outcome-" + o.kind;
    li.setAttribute("data-outcome", o.kind);
    box.appendChild(li);
  }
}

// The day's summary (the server's counts) gains a grade this phone's queue sent since.
function countInSummary(grade) {
  const summary = document.querySelector("[data-summary]");
  if (!summary) return;
  const total = summary.querySelector("[data-summary-total]");
  total.textContent = Number(total.textContent) + 1;
  for (const span of summary.querySelectorAll("[data-summary-grade]")) {
    if (span.getAttribute("data-summary-grade") !== grade) continue;
    const n = span.querySelector("[data-summary-count]");
    n.textContent = Number(n.textContent) + 1;
  }
}

// My inspections of today gain the grades this phone sent (while the page is open).
function addMine(credited) {
  const box = document.querySelector("[data-mine]");
  if (!box) return;
  for (const o of credited) {
    if (!o.inspection_id || box.querySelector('[data-inspection="' + o.inspection_id + '"]')) continue;
    const li = document.createElement("li");
    li.setAttribute("data-inspection", o.inspection_id);
    li.textContent = who(o) + " · " + o.grade + " · " + signed(o.points);
    box.appendChild(li);
    countInSummary(o.grade);
  }
  const count = box.querySelectorAll("[data-inspection]").length;
  const none = box.querySelector("[data-mine-none]");
  if (none && count) none.remove();
  document.querySelector("[data-mine-count]").textContent = count;
}

// The households still to inspect are marked graded and sent (or already graded by
// someone), or graded and waiting to be sent.
function markTodo(list, items) {
  const today = villageToday();
  const done = new Set();
  const waiting = new Set();
  addMine(list.filter((o) => o.day === today && o.kind === "credited"));
  for (const o of list) {
    if (o.day === today && ["credited", "already", "sent"].includes(o.kind)) done.add(String(o.household_id));
  }
  for (const item of items) if (item.day === today) waiting.add(String(item.household_id));
  for (const li of document.querySelectorAll("[data-todo]")) {
    const id = li.getAttribute("data-todo");
    const state = done.has(id) ? "done" : (waiting.has(id) ? "queued" : "");
    li.setAttribute("data-todo-state", state);
    li.querySelector("[data-todo-tag]").textContent = state ? msg("todo-" + state) : "";
  }
}

// The outcomes and the page's lists, as the queue (items waiting) and its outcomes say.
export async function showAll(items) {
  const list = await queue.outcomes();
  showOutcomes(list);
  markTodo(list, items);
}
