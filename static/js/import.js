// A roster import can take several seconds: past one second, say that it is running,
// and grey out the button so that it is not pressed again.
function start() {
  var form = document.querySelector("form[data-import-form]");
  if (!form) { return; }
  var progress = form.querySelector("[data-import-progress]");
  form.addEventListener("submit", function () {
    setTimeout(function () {
      form.querySelectorAll("button").forEach(function (button) { button.disabled = true; });
    }, 0);
    setTimeout(function () { if (progress) { progress.hidden = false; } }, 1000);
  });
}

start();
