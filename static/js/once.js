// Grey out a form's buttons once it is sent, so a second tap is not sent again.
// (The server counts a resent form once anyway: the form carries its own key.)
function start() {
  document.querySelectorAll("form[data-grade-form]").forEach(function (form) {
    form.addEventListener("submit", function () {
      // Disable after the browser has read the pressed button's value.
      setTimeout(function () {
        form.querySelectorAll("button").forEach(function (button) { button.disabled = true; });
      }, 0);
    });
  });
}

start();
