// The storekeeper's basket: + and − per good, the total and what is left, live.
// Nothing is ever a dead button: what cannot be done is disabled and says why (over the
// balance: by how much; more than the shelf: which good). The server checks it all again.
// The basket and its form key are kept (kept-basket.js) until its receipt is shown, so
// Back, a reload or a second tab can never make it a second redemption.
import * as store from "./kept-basket.js";

function start() {
  var form = document.querySelector("form[data-basket]");
  if (!form) return;
  var balance = parseInt(form.dataset.available, 10);
  var goods = Array.prototype.slice.call(form.querySelectorAll("[data-good]"));
  var totalOut = form.querySelector("[data-total]");
  var leftOut = form.querySelector("[data-left]");
  var confirm = form.querySelector("[data-confirm]");
  var shortfall = form.querySelector("[data-shortfall]");

  function quantity(good) {
    var value = parseInt(good.querySelector("[data-qty]").value, 10);
    return isNaN(value) || value < 0 ? 0 : value;
  }

  function update() {
    var total = goods.reduce(function (sum, good) {
      return sum + quantity(good) * parseInt(good.dataset.price, 10);
    }, 0);
    var left = balance - total;
    var over = [];
    totalOut.textContent = total;
    leftOut.textContent = left;
    leftOut.classList.toggle("minus", left < 0);
    goods.forEach(function (good) {
      var price = parseInt(good.dataset.price, 10);
      var stock = parseInt(good.dataset.stock, 10);
      var qty = quantity(good);
      good.classList.toggle("unaffordable", price > left && qty === 0);
      good.classList.toggle("over-stock", qty > stock);
      if (qty > stock) over.push(good.dataset.name);
      good.querySelector("[data-plus]").disabled = price > left || qty >= stock;
      good.querySelector("[data-minus]").disabled = qty === 0;
    });
    var words = [];
    if (left < 0) words.push(form.dataset.msgShort.replace("999999", String(-left)));
    if (over.length) words.push(form.dataset.msgOver + ": " + over.join("、"));
    shortfall.textContent = words.join(" · ");
    shortfall.hidden = words.length === 0;
    confirm.disabled = total === 0 || left < 0 || over.length > 0;
  }

  // Kept basket -------------------------------------------------------------------------
  var user = form.dataset.user;
  var household = form.dataset.household;
  var keyInput = form.querySelector("input[name=key]");
  var justRedeemed = document.querySelector("[data-just-redeemed]");
  var kept = null;

  function lines() {
    var chosen = {};
    goods.forEach(function (good) {
      if (quantity(good) > 0) chosen[good.dataset.good] = quantity(good);
    });
    return chosen;
  }

  function show(basket) {
    goods.forEach(function (good) {
      var input = good.querySelector("[data-qty]");
      var qty = basket.lines[good.dataset.good] || 0;
      input.value = qty;
      input.disabled = parseInt(good.dataset.stock, 10) <= 0 && qty === 0;
    });
    keyInput.value = basket.key;
    var last = store.justRedeemed(basket);
    justRedeemed.hidden = !last;
    if (last) {
      var words = justRedeemed.dataset.msg.split("RECEIPT_NO");
      var link = document.createElement("a");
      link.href = last.url;
      link.textContent = last.receipt_no;
      justRedeemed.replaceChildren(words[0], link, words[1] || "");
    }
    update();
  }

  // Open the basket kept for this household, or keep this page's as a new one. A key the
  // server refused (its refusal is kept with it) is not sent again: the basket gets a new one.
  function keep() {
    if (!user || !household || !keyInput) return;
    store.forgetStale();
    kept = store.read(user, household);
    if (kept) {
      if (kept.key === form.dataset.spentKey) kept.key = store.newKey();
      show(kept);
    } else {
      kept = { key: keyInput.value, lines: lines() };
    }
    store.write(user, household, kept);
    form.addEventListener("input", remember);
    form.addEventListener("click", remember);
    form.addEventListener("change", remember);
    window.addEventListener("storage", function (event) {
      if (event.key === store.storageName(user, household)) reopen();
    });
    // Back may bring the page from the cache, or put back the fields as they were typed.
    window.addEventListener("pageshow", reopen);
  }

  function remember() {
    var chosen = lines();
    if (JSON.stringify(chosen) === JSON.stringify(kept.lines)) return;
    kept.lines = chosen;
    store.write(user, household, kept);
  }

  // Another tab changed or redeemed this basket, or the page came back.
  function reopen() {
    kept = store.read(user, household) || { key: store.newKey(), lines: {} };
    show(kept);
  }

  goods.forEach(function (good) {
    var input = good.querySelector("[data-qty]");
    var stock = parseInt(good.dataset.stock, 10);
    good.querySelector("[data-plus]").addEventListener("click", function () {
      input.value = Math.min(quantity(good) + 1, stock);
      update();
    });
    good.querySelector("[data-minus]").addEventListener("click", function () {
      var next = Math.max(0, quantity(good) - 1);
      input.value = next;
      // A sold-out good's field is off again once its last unit is taken off the basket.
      if (stock <= 0 && next === 0) input.disabled = true;
      update();
    });
    input.addEventListener("input", update);
    // Typed more than the shelf holds: the field itself comes back to the stock.
    input.addEventListener("change", function () {
      if (quantity(good) > stock) input.value = Math.max(stock, 0);
      update();
    });
  });
  form.addEventListener("submit", function () {
    setTimeout(function () { confirm.disabled = true; }, 0);
  });
  update();
  keep();
}

start();
