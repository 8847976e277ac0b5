// Green Points inspector app: what every part of it reads from the page. The section
// [data-offline] (templates/inspections/_offline.html) carries the user, the token URL,
// and the server's word on keys and refusals; /inspect/texts.js (window.GPTexts) the
// words in the page's language.

export const root = document.querySelector("[data-offline]");
export const $ = (sel) => root.querySelector(sel);
export const username = root ? root.dataset.username : "";

function phrases() {
  return window.GPTexts || { msgs: {}, refusals: {} };
}

// A message in the page's language, its {names} filled in.
export function msg(name, values) {
  let text = phrases().msgs[name] || "";
  for (const [k, v] of Object.entries(values || {})) text = text.split("{" + k + "}").join(v);
  return text;
}

// A refusal in the page's language: by its code where the page knows it, else the code.
export function why(code, detail) {
  const known = phrases().refusals;
  if (code && known[code]) return known[code];
  return code ? msg("code", { code }) : detail;
}

export function load(name) {
  try { return JSON.parse(localStorage.getItem("gp." + name) || "null"); } catch (e) { return null; }
}

export function save(name, value) {
  localStorage.setItem("gp." + name, JSON.stringify(value));
}

export const signed = (points) => (points >= 0 ? "+" : "") + points;

// The bearer token the queue is sent with (the API takes no cookies): the page asks for
// one with its session; queue.js keeps it in IndexedDB, where the worker finds it.
async function pageToken() {
  const response = await fetch(root.dataset.tokenUrl, {
    method: "POST", credentials: "same-origin", redirect: "manual",
    headers: { "X-CSRFToken": root.dataset.csrf, "Accept": "application/json" }
  });
  const type = response.headers.get("Content-Type") || "";
  if (!response.ok || type.indexOf("json") < 0) throw new Error("login");
  return response.json();
}

export const tokenOptions = () => ({ newToken: pageToken, username });
