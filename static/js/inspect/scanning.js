// Green Points inspector app: a scanned card (the camera and its decoding are
// scanner.js's). With a signal a card of the kept roster goes straight to its household's
// page; without one the offline panel grades it here. The QR decoder is kept offline
// for a phone with no native one (BarcodeDetector).
import { msg, root } from "./page.js";
import { notice, openPanel, panel } from "./grading.js";
import { findHousehold, roster } from "./roster.js";

// A card's payload (.../q/<token>): its village, household and card version, or null.
export function readCard(text) {
  const token = text.split("/q/").pop().split(/[?#]/)[0];
  try {
    const raw = atob(token.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((token.length + 3) % 4));
    if (raw.length < 10) return null;
    const view = new DataView(Uint8Array.from(raw, (c) => c.charCodeAt(0)).buffer);
    return { village_id: view.getUint32(0), household_id: view.getUint32(4), version: view.getUint16(8) };
  } catch (e) { return null; }
}

// A scanned card, on the scanner page or on the done page (the next card).
function onScanned(event) {
  const card = readCard(event.detail);
  if (navigator.onLine) {
    // A card of the roster at its current version goes straight to its household's
    // page: one round trip less on a weak link. Any other card goes through the
    // server's check (revoked, another village, unreadable).
    const r = roster();
    const h = card && r && r.village_id === card.village_id ? findHousehold(card.household_id) : null;
    if (h && h.card_version === card.version) {
      event.preventDefault();
      window.location.href = "/inspect/household/" + h.id;
    }
    return;
  }
  // Without a signal the panel grades it here, instead of the (unreachable) household
  // page; a page without the panel goes to /inspect/card, which the worker answers
  // with the kept scanner page, and its panel opens there.
  if (!panel()) return;
  event.preventDefault();
  if (!card) {
    notice(msg("invalid"));
    document.dispatchEvent(new CustomEvent("gp:scan-again"));
    return;
  }
  openPanel({ household_id: card.household_id, payload: event.detail });
}

// The kept page the worker answered a household's link or a card's link with: grade here.
export function openLinked() {
  const path = window.location.pathname;
  const linked = /^\/inspect\/household\/(\d+)$/.exec(path);
  if (linked) openPanel({ household_id: Number(linked[1]) });
  if (path === "/inspect/card") {
    const payload = new URLSearchParams(window.location.search).get("payload") || "";
    const card = readCard(payload);
    if (card) openPanel({ household_id: card.household_id, payload });
  }
}

export function watchScans() {
  document.addEventListener("gp:scanned", onScanned);
}

async function nativeQr() {
  if (!("BarcodeDetector" in window)) return false;
  try {
    return (await window.BarcodeDetector.getSupportedFormats()).includes("qr_code");
  } catch (e) { return false; }
}

// The QR decoder: a phone with no native one needs it to scan offline, so the worker
// keeps it; a phone with one never downloads it.
export async function keepDecoder() {
  const scanner = document.querySelector("[data-scanner][data-decoder]");
  if (!scanner || !("serviceWorker" in navigator) || !root.dataset.sw) return;
  try {
    if (await nativeQr()) return;
    const registration = await navigator.serviceWorker.ready;
    const state = await new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = (event) => resolve(event.data);
      registration.active.postMessage({ keep: scanner.dataset.decoder }, [channel.port2]);
    });
    root.setAttribute("data-decoder", state);
  } catch (e) { /* it is kept on a later visit */ }
}
