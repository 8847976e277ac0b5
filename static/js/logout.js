// Green Points: logging out of a phone that carries the inspector app. The phone's API
// token is revoked, and the roster, the kept page and the outcomes (households' names
// and addresses) leave the phone. A logout is refused while grades wait in the queue:
// they stay on the phone and upload first, so logging out never drops one.
import * as queue from "./queue.js";

async function wipe() {
  for (const name of ["roster", "outcomes", "token", "username"]) localStorage.removeItem("gp." + name);
  if (!window.caches) return;
  const names = (await caches.keys()).filter((name) => name.indexOf("gp-inspect-") === 0);
  await Promise.all(names.map(async (name) => {
    const cache = await caches.open(name);
    await Promise.all([cache.delete("/inspect"), cache.delete("/inspect/cases")]);
  }));
}

function watch(form) {
  const warning = form.querySelector("[data-logout-warning]");
  const refuse = (text) => {
    warning.textContent = text;
    warning.hidden = false;
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const items = await queue.all();
      if (items.length) {
        refuse(form.getAttribute("data-msg-queued").split("{n}").join(items.length));
        // The inspector app on this page (inspect.js) sends them now.
        document.dispatchEvent(new CustomEvent("gp:send-queue"));
        return;
      }
      // Without a signal the server cannot end the session or revoke the token.
      if (!navigator.onLine) { refuse(form.getAttribute("data-msg-offline")); return; }
      await queue.forget();
    } catch (e) { /* the phone's store failed: log out all the same */ }
    await wipe().catch(() => {});
    form.submit();
  });
}

document.querySelectorAll("form[data-logout]").forEach(watch);
