// The storekeeper's basket: + and − per good, the total and what is left, live.
// Nothing is ever a dead button: what cannot be done is disabled and says why (over the
// balance: by how much; more than the shelf: which good). The server checks it all again.
(function () {
  "use strict";
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
})();
