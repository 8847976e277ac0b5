// The receipt (issue 15): the big print button, a reprint straight from the list, and a
// 58 mm page exactly as long as the receipt (a fixed length would waste paper or cut it).
// It also closes the kept basket that made it (issue 33, kept-basket.js).
import { close } from "./kept-basket.js";

function start() {
  var receipt = document.querySelector("[data-receipt]");
  var button = document.querySelector("[data-print]");
  if (!receipt) return;

  function fitPage() {
    if (receipt.dataset.paper !== "58") return;
    var link = document.querySelector("link[data-receipt-sheet]");
    var sheet = link && link.sheet;
    if (!sheet) return;
    // CSS pixels are 1/96 inch; a little paper after the last line for the tear.
    var millimetres = Math.ceil(receipt.getBoundingClientRect().height * 25.4 / 96) + 6;
    var rule = "@page { size: 58mm " + Math.max(millimetres, 40) + "mm; margin: 0; }";
    if (sheet.fitted !== undefined) sheet.deleteRule(sheet.fitted);
    sheet.fitted = sheet.insertRule(rule, sheet.cssRules.length);
  }

  // The basket that made this receipt is closed: Back opens an empty one that names it.
  function closeBasket() {
    var key = receipt.dataset.basketKey;
    if (!key) return;
    close(receipt.dataset.user, receipt.dataset.household, key, {
      receipt_no: receipt.querySelector("[data-receipt-no]").textContent,
      url: location.pathname,
    });
  }

  closeBasket();
  fitPage();
  window.addEventListener("beforeprint", fitPage);
  if (button) {
    button.addEventListener("click", function () { window.print(); });
    button.focus();
  }
  if (receipt.hasAttribute("data-autoprint")) {
    window.addEventListener("load", function () { window.print(); });
  }
}

start();
