// Green Points inspector app: grades that never get lost where the signal drops
// (DESIGN.md "At the bins, offline"). This module starts it; each concern has its own:
//   inspect/page.js        what the page hands the app (user, token, words)
//   inspect/roster.js      the kept list of households, for lookups offline
//   inspect/queue-view.js  the grades waiting on this phone, sending them
//   inspect/outcomes.js    what became of each, in the page's lists
//   inspect/grading.js     grading offline: the grade form, the panel, a late photo
//   inspect/photos.js      a grade's photo, made smaller
//   inspect/scanning.js    a scanned card, and keeping the QR decoder offline
// The queue itself is queue.js (shared with the service worker, sw.js).
import * as queue from "./queue.js";
import { root } from "./inspect/page.js";
import { fetchRoster, noteRecorded, showRoster } from "./inspect/roster.js";
import { refresh, send, sendSoon, watchPassword } from "./inspect/queue-view.js";
import { panel, watchGradeForm, watchLatePhoto, watchPanel } from "./inspect/grading.js";
import { keepDecoder, openLinked, watchScans } from "./inspect/scanning.js";

async function start() {
  // The prefix of a form's key and the refusal codes: the server's word, on the page.
  queue.configureFrom(root);
  // For the console and the browser tests: the queue and this page's sender.
  window.GPQueue = queue;
  window.GPInspect = { send, refresh };
  watchPassword();
  watchScans();
  const gradeForm = document.querySelector("form[data-grade-form]");
  if (gradeForm) watchGradeForm(gradeForm);
  const late = document.querySelector("[data-late-photo]");
  if (late) watchLatePhoto(late);
  if (panel()) {
    watchPanel();
    openLinked();
  }
  if ("serviceWorker" in navigator && root.dataset.sw) {
    // A module worker (it imports queue.js). Its update checks go through the HTTP cache
    // (the worker is kept a few minutes: roster.py), not over the network after every page.
    navigator.serviceWorker.register(root.dataset.sw, {
      scope: "/inspect", updateViaCache: "all", type: "module"
    }).catch(() => {});
  }
  window.addEventListener("online", () => { sendSoon(); if (panel()) fetchRoster(); });
  window.addEventListener("offline", refresh);
  // logout.js asks for the queue to be sent before it refuses a logout.
  document.addEventListener("gp:send-queue", send);
  noteRecorded();
  keepDecoder();
  // The worker (Background Sync) or another tab sent part of the queue: show it.
  if ("BroadcastChannel" in window) new BroadcastChannel("gp-queue").onmessage = refresh;
  showRoster();
  await refresh();
  if (!navigator.onLine) return;
  if (panel()) await fetchRoster();
  await send();
}

if (root) start();
