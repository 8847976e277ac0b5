// The storekeeper's basket: + and − per good, the total and what is left, live.
// Goods the household cannot afford (any more) are greyed. The server checks it all again.
(function () {
  "use strict";
  var form = document.querySelector("form[data-basket]");
  if (!form) return;
  var balance = parseInt(form.dataset.available, 10);
  var goods = Array.prototype.slice.call(form.querySelectorAll("[data-good]"));
  var totalOut = form.querySelector("[data-total]");
  var leftOut = form.querySelector("[data-left]");
  var confirm = form.querySelector("[data-confirm]");

  function quantity(good) {
    var value = parseInt(good.querySelector("[data-qty]").value, 10);
    return isNaN(value) || value < 0 ? 0 : value;
  }

  function update() {
    var total = goods.reduce(function (sum, good) {
      return sum + quantity(good) * parseInt(good.dataset.price, 10);
    }, 0);
    var left = balance - total;
    totalOut.textContent = total;
    leftOut.textContent = left;
    leftOut.classList.toggle("minus", left < 0);
    goods.forEach(function (good) {
      var price = parseInt(good.dataset.price, 10);
      var stock = parseInt(good.dataset.stock, 10);
      good.classList.toggle("unaffordable", price > left && quantity(good) === 0);
      good.querySelector("[data-plus]").disabled = price > left || quantity(good) >= stock;
      good.querySelector("[data-minus]").disabled = quantity(good) === 0;
    });
    confirm.disabled = total === 0 || left < 0;
  }

  goods.forEach(function (good) {
    var input = good.querySelector("[data-qty]");
    good.querySelector("[data-plus]").addEventListener("click", function () {
      input.value = quantity(good) + 1;
      update();
    });
    good.querySelector("[data-minus]").addEventListener("click", function () {
      input.value = Math.max(0, quantity(good) - 1);
      update();
    });
    input.addEventListener("input", update);
  });
  form.addEventListener("submit", function () {
    setTimeout(function () { confirm.disabled = true; }, 0);
  });
  update();
})();
