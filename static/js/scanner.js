// Green Points card scanner: camera first, photo as fallback. Decodes in the page
// with the browser's BarcodeDetector where it exists, else with the vendored jsQR
// (a classic script, loaded only when needed).
const root = document.querySelector("[data-scanner]");
const RETRY_MS = 120;
const FAILED_RETRY_MS = 250;
const LONGEST_SIDE = 1600;

function scanner() {
  const video = root.querySelector("[data-video]");
  const canvas = root.querySelector("[data-canvas]");
  const status = root.querySelector("[data-status]");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  let stream = null;
  let done = false;
  let detector = null;
  let decoderLoading = null;

  const say = (text) => { status.textContent = text; };

  function loadDecoder() {
    if (window.jsQR) return Promise.resolve();
    if (!decoderLoading) {
      decoderLoading = new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = root.dataset.decoder;
        script.onload = resolve;
        script.onerror = reject;
        document.head.appendChild(script);
      });
    }
    return decoderLoading;
  }

  async function setUpDetector() {
    if (!("BarcodeDetector" in window)) return null;
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      return formats.includes("qr_code") ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
    } catch (e) { return null; }
  }

  function stop() {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
  }

  function found(text) {
    if (done) return;
    done = true;
    stop();
    // Without a signal, the inspector app (inspect/scanning.js) takes the card instead.
    const scanned = new CustomEvent("gp:scanned", { detail: text, cancelable: true });
    if (!document.dispatchEvent(scanned)) { video.hidden = true; return; }
    say(text);
    window.location.href = root.dataset.target + "?payload=" + encodeURIComponent(text);
  }

  // Decode whatever is drawn on the canvas: the text, or null.
  async function decodeCanvas() {
    if (detector) {
      const codes = await detector.detect(canvas);
      return codes.length ? codes[0].rawValue : null;
    }
    await loadDecoder();
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    const code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "attemptBoth" });
    return code ? code.data : null;
  }

  async function tick() {
    if (done || !stream) return;
    if (!(video.readyState >= 2 && video.videoWidth)) { setTimeout(tick, RETRY_MS); return; }
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    context.drawImage(video, 0, 0);
    let text;
    try { text = await decodeCanvas(); } catch (e) { setTimeout(tick, FAILED_RETRY_MS); return; }
    if (text) found(text); else setTimeout(tick, RETRY_MS);
  }

  document.addEventListener("gp:scan-again", () => {
    done = false;
    say("");
    root.querySelector("[data-photo]").value = "";
  });

  root.querySelector("[data-start]").addEventListener("click", async () => {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say(root.dataset.msgNocamera);
      return;
    }
    try {
      [detector, stream] = await Promise.all([setUpDetector(), navigator.mediaDevices.getUserMedia({
        video: { facingMode: "environment", width: { ideal: 1280 } }, audio: false
      })]);
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
    } catch (e) { say(root.dataset.msgNocamera); return; }
    tick();
  });

  async function decodePhoto(image) {
    const scale = Math.min(1, LONGEST_SIDE / Math.max(image.width, image.height));
    canvas.width = Math.round(image.width * scale);
    canvas.height = Math.round(image.height * scale);
    context.drawImage(image, 0, 0, canvas.width, canvas.height);
    URL.revokeObjectURL(image.src);
    try {
      detector = await setUpDetector();
      const text = await decodeCanvas();
      if (text) found(text); else say(root.dataset.msgUnreadable);
    } catch (e) { say(root.dataset.msgUnreadable); }
  }

  root.querySelector("[data-photo]").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (!file) return;
    const image = new Image();
    image.onload = () => decodePhoto(image);
    image.onerror = () => say(root.dataset.msgUnreadable);
    image.src = URL.createObjectURL(file);
  });
}

if (root) scanner();
