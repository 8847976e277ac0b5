// The notice of points expiring this month (issue 19): its print button.
function start() {
  var button = document.querySelector("[data-print-list]");
  if (button) button.addEventListener("click", function () { window.print(); });
}

start();
