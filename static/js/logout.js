// Green Points: logging out of a phone that carries the inspector app. The phone's API
// token is revoked, and the roster, the kept page and the outcomes (households' names
// and addresses) leave the phone. A logout is refused while grades wait in the queue:
// they stay on the phone and upload first, so logging out never drops one.
(function () {
  "use strict";
  var Q = window.GPQueue;
  if (!Q) return;

  function wipe() {
    ["roster", "outcomes", "token", "username"].forEach(function (name) {
      localStorage.removeItem("gp." + name);
    });
    if (!window.caches) return null;
    return caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) { return name.indexOf("gp-inspect-") === 0; })
        .map(function (name) {
          return caches.open(name).then(function (cache) {
            return Promise.all([cache.delete("/inspect"), cache.delete("/inspect/cases")]);
          });
        }));
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-logout]"), function (form) {
    var warning = form.querySelector("[data-logout-warning]");
    function refuse(text) {
      warning.textContent = text;
      warning.hidden = false;
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      Q.all().then(function (items) {
        if (items.length) {
          refuse(form.getAttribute("data-msg-queued").split("{n}").join(items.length));
          if (window.GPInspect) window.GPInspect.send();
          return null;
        }
        // Without a signal the server cannot end the session or revoke the token.
        if (!navigator.onLine) return refuse(form.getAttribute("data-msg-offline"));
        return Q.forget().then(wipe).then(function () { form.submit(); });
      }).catch(function () {
        Promise.resolve(wipe()).then(function () { form.submit(); });
      });
    });
  });
})();
