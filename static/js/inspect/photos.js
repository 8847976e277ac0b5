// Green Points inspector app: a grade's photo, made smaller on the phone before it goes
// up (or waits in the queue), with a small picture of it on the page.
import { $ } from "./page.js";

const LONGEST_SIDE = 1600;

function resize(file) {
  return new Promise((resolve) => {
    const image = new Image();
    image.onload = () => {
      const scale = Math.min(1, LONGEST_SIDE / Math.max(image.width, image.height));
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(image.width * scale);
      canvas.height = Math.round(image.height * scale);
      canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
      URL.revokeObjectURL(image.src);
      canvas.toBlob((blob) => resolve(blob || file), "image/jpeg", 0.85);
    };
    image.onerror = () => resolve(file);
    image.src = URL.createObjectURL(file);
  });
}

// A small picture of the photo just taken, after the line that says it is attached.
export function thumbnail(after, blob) {
  if (!after) return;
  let img = after.parentNode.querySelector("img[data-photo-thumb]");
  if (!img) {
    img = document.createElement("img");
    img.className = "photo-thumb";
    img.setAttribute("data-photo-thumb", "");
    img.alt = $("[data-photo-attached]").textContent;
    after.parentNode.insertBefore(img, after.nextSibling);
  }
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(blob);
}

// Each photo chosen in the input, resized, goes to keep(blob) and is shown.
export function onPhoto(input, keep) {
  input.addEventListener("change", async () => {
    const file = input.files[0];
    const name = input.parentNode.querySelector("[data-photo-name]");
    if (!file) return;
    const blob = await resize(file);
    keep(blob);
    if (name) {
      name.textContent = $("[data-photo-attached]").textContent;
      thumbnail(name, blob);
    }
  });
}
