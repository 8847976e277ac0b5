// Green Points inspector app: grading without a signal. On the grade page the tap goes
// to the queue instead of the network; on the scanner page (or the kept page the worker
// answers a household's link with) the offline panel grades a household of the roster.
// On the done page a photo may still be added in the minute after the grade.
import * as queue from "../queue.js";
import { $, msg, signed, tokenOptions } from "./page.js";
import { onPhoto, thumbnail } from "./photos.js";
import { dayOf, findHousehold, labelOf, roster, villageToday } from "./roster.js";
import { enqueue } from "./queue-view.js";

const LATE_PHOTO_MS = 60000;
let current = null; // the household the offline panel grades
let panelPhoto = null; // its photo, resized

export const panel = () => $("[data-panel]");

// The grade page: offline, the tap goes to the queue instead of the network.
export function watchGradeForm(form) {
  let gradePhoto = null;
  const photoInput = form.querySelector("[data-grade-photo]");
  onPhoto(photoInput, (blob) => {
    gradePhoto = blob;
    // The smaller photo goes up with the form too.
    if (window.DataTransfer && blob !== photoInput.files[0]) {
      const transfer = new DataTransfer();
      transfer.items.add(new File([blob], "photo.jpg", { type: "image/jpeg" }));
      photoInput.files = transfer.files;
    }
  });
  form.addEventListener("submit", async (event) => {
    if (navigator.onLine) return;
    event.preventDefault();
    const id = Number(form.dataset.household);
    await enqueue({
      key: queue.pageKey(form.querySelector("[name=key]").value),
      household_id: id,
      grade: event.submitter ? event.submitter.value : "",
      note: form.querySelector("[name=note]").value.trim(),
      photo: gradePhoto,
      label: labelOf(findHousehold(id))
    });
    window.location.href = "/inspect?queued=1";
  });
}

// The done page: a photo may still be added in the minute after the grade.
export function watchLatePhoto(late) {
  const status = late.querySelector("[data-late-photo-status]");
  setTimeout(() => { late.hidden = true; }, LATE_PHOTO_MS);
  onPhoto(late.querySelector("input[type=file]"), async (blob) => {
    const form = new FormData();
    form.append("photo", blob, "photo.jpg");
    try {
      const token = await queue.token(tokenOptions());
      if (!token) throw new Error("login");
      const response = await fetch("/api/v1/inspections/" + late.dataset.inspection + "/photo", {
        method: "POST", body: form, credentials: "omit",
        headers: { "Authorization": "Bearer " + token.token, "Idempotency-Key": queue.newKey() }
      });
      if (!response.ok) throw new Error(String(response.status));
      status.textContent = $("[data-photo-attached]").textContent;
      thumbnail(status, blob);
    } catch (e) { status.textContent = late.dataset.msgFailed; }
  });
}

export function notice(text) {
  const line = $("[data-notice]");
  line.textContent = text;
  line.hidden = false;
}

async function inspectedToday(id) {
  const h = findHousehold(id);
  const today = villageToday();
  if (h && h.last_inspected_on === today) return true;
  const items = await queue.all();
  return items.some((i) => i.household_id === id && (i.day || dayOf(new Date(i.inspected_at))) === today);
}

function closePanel() {
  panel().hidden = true;
  current = null;
  panelPhoto = null;
  $("[data-panel-text]").value = "";
  $("[data-panel-photo]").value = "";
  panel().querySelector("[data-photo-name]").textContent = "";
  document.dispatchEvent(new CustomEvent("gp:scan-again"));
}

function gradeButton(g, i) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "button grade grade-" + (i + 1);
  button.value = g.grade;
  button.setAttribute("data-offline-grade", g.grade);
  const label = document.createElement("span");
  label.className = "grade-label";
  label.textContent = g.label;
  const points = document.createElement("span");
  points.className = "grade-points";
  points.textContent = g.grade + " · " + signed(g.points);
  button.append(label, points);
  return button;
}

// The panel for a household (by id, or by a card's payload) of the kept roster.
export async function openPanel(ref) {
  const r = roster();
  if (!r) { notice(msg("noroster")); return; }
  const h = ref.household_id ? findHousehold(ref.household_id) : null;
  current = { household_id: ref.household_id, payload: ref.payload || null, label: labelOf(h) };
  $("[data-panel-name]").textContent = h ? h.name : "#" + ref.household_id;
  $("[data-panel-meta]").textContent = h ? h.code + " · " + h.address + " · " + h.balance : "";
  $("[data-panel-note]").textContent = h ? "" : msg("unknown");
  $("[data-panel-grades]").replaceChildren(...r.grades.map(gradeButton));
  const shown = inspectedToday(ref.household_id);
  panel().hidden = false;
  panel().scrollIntoView();
  $("[data-panel-today]").hidden = !(await shown);
}

export function watchPanel() {
  onPhoto($("[data-panel-photo]"), (blob) => { panelPhoto = blob; });
  $("[data-panel-cancel]").addEventListener("click", closePanel);
  $("[data-panel-grades]").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-offline-grade]");
    if (!button || !current) return;
    const item = Object.assign({}, current, {
      grade: button.value, note: $("[data-panel-text]").value.trim(), photo: panelPhoto
    });
    closePanel();
    enqueue(item);
  });
}
