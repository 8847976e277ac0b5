// One basket, one redemption (issue 33). A household's basket at this counter is kept in
// localStorage with its form key, from the moment it is first shown until its receipt is:
// Back, a reload, a lost answer or a second tab all send the same key again, and the
// server answers with the outcome it kept for that key instead of charging twice.
// localStorage rather than sessionStorage: a second tab shares it (and hears each change).
// The receipt closes the basket; the next one gets a new key and the page says which
// receipt the last one made.
const PREFIX = "gp.basket.";
const KEEP_MS = 12 * 3600 * 1000; // a basket untouched this long is forgotten
const JUST_MS = 30 * 60 * 1000; // "just redeemed" is said for this long

export function storageName(user, household) {
  return PREFIX + user + "." + household;
}

// crypto.getRandomValues also works on plain http (randomUUID needs a secure context).
export function newKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function parse(text) {
  try {
    const basket = JSON.parse(text);
    if (!basket || typeof basket.key !== "string" || Date.now() - basket.at > KEEP_MS) {
      return null;
    }
    basket.lines = basket.lines || {};
    return basket;
  } catch (error) {
    return null;
  }
}

export function read(user, household) {
  try {
    return parse(localStorage.getItem(storageName(user, household)));
  } catch (error) {
    return null; // storage refused (a private window): the page's own key still counts
  }
}

export function write(user, household, basket) {
  basket.at = Date.now();
  try {
    localStorage.setItem(storageName(user, household), JSON.stringify(basket));
  } catch (error) {
    // Full or refused: the basket still works, for this page's life.
  }
}

// The receipt made by the basket sent with key: a new, empty basket remembers it.
export function close(user, household, key, receipt) {
  const basket = read(user, household);
  if (basket && basket.key !== key) return false; // another basket, begun since
  write(user, household, { key: newKey(), lines: {}, last: { ...receipt, at: Date.now() } });
  return true;
}

// What the last basket made, if that was just now.
export function justRedeemed(basket) {
  const last = basket && basket.last;
  return last && Date.now() - last.at < JUST_MS ? last : null;
}

export function forgetStale() {
  try {
    for (let i = localStorage.length - 1; i >= 0; i -= 1) {
      const name = localStorage.key(i);
      if (name && name.indexOf(PREFIX) === 0 && !parse(localStorage.getItem(name))) {
        localStorage.removeItem(name);
      }
    }
  } catch (error) {
    // Storage refused: there is nothing kept to forget.
  }
}
