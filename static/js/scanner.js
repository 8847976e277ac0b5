// Green Points card scanner: camera first, photo as fallback. Decodes in the page
// with the browser's BarcodeDetector where it exists, else with the vendored jsQR.
(function () {
  "use strict";
  var root = document.querySelector("[data-scanner]");
  if (!root) return;
  var video = root.querySelector("[data-video]");
  var canvas = root.querySelector("[data-canvas]");
  var status = root.querySelector("[data-status]");
  var context = canvas.getContext("2d", { willReadFrequently: true });
  var stream = null;
  var done = false;
  var detector = null;
  var decoderLoading = null;

  function say(text) { status.textContent = text; }

  function loadDecoder() {
    if (window.jsQR) return Promise.resolve();
    if (!decoderLoading) {
      decoderLoading = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = root.dataset.decoder;
        script.onload = resolve;
        script.onerror = reject;
        document.head.appendChild(script);
      });
    }
    return decoderLoading;
  }

  function setUpDetector() {
    if (!("BarcodeDetector" in window)) return Promise.resolve(null);
    return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      return formats.indexOf("qr_code") >= 0 ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
    }).catch(function () { return null; });
  }

  function found(text) {
    if (done) return;
    done = true;
    stop();
    // Without a signal, the inspector app (inspect.js) takes the card instead.
    var scanned = new CustomEvent("gp:scanned", { detail: text, cancelable: true });
    if (!document.dispatchEvent(scanned)) { video.hidden = true; return; }
    say(text);
    window.location.href = root.dataset.target + "?payload=" + encodeURIComponent(text);
  }

  function stop() {
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
  }

  // Decode whatever is drawn on the canvas; resolve with the text or null.
  function decodeCanvas() {
    if (detector) {
      return detector.detect(canvas).then(function (codes) {
        return codes.length ? codes[0].rawValue : null;
      });
    }
    return loadDecoder().then(function () {
      var image = context.getImageData(0, 0, canvas.width, canvas.height);
      var code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "attemptBoth" });
      return code ? code.data : null;
    });
  }

  function tick() {
    if (done || !stream) return;
    if (video.readyState >= 2 && video.videoWidth) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      context.drawImage(video, 0, 0);
      decodeCanvas().then(function (text) {
        if (text) found(text); else setTimeout(tick, 120);
      }, function () { setTimeout(tick, 250); });
    } else {
      setTimeout(tick, 120);
    }
  }

  document.addEventListener("gp:scan-again", function () {
    done = false;
    say("");
    root.querySelector("[data-photo]").value = "";
  });

  root.querySelector("[data-start]").addEventListener("click", function () {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say(root.dataset.msgNocamera);
      return;
    }
    Promise.all([setUpDetector(), navigator.mediaDevices.getUserMedia({
      video: { facingMode: "environment", width: { ideal: 1280 } }, audio: false
    })]).then(function (results) {
      detector = results[0];
      stream = results[1];
      video.srcObject = stream;
      video.hidden = false;
      return video.play();
    }).then(tick).catch(function () { say(root.dataset.msgNocamera); });
  });

  root.querySelector("[data-photo]").addEventListener("change", function (event) {
    var file = event.target.files[0];
    if (!file) return;
    var image = new Image();
    image.onload = function () {
      var scale = Math.min(1, 1600 / Math.max(image.width, image.height));
      canvas.width = Math.round(image.width * scale);
      canvas.height = Math.round(image.height * scale);
      context.drawImage(image, 0, 0, canvas.width, canvas.height);
      URL.revokeObjectURL(image.src);
      setUpDetector().then(function (d) { detector = d; return decodeCanvas(); })
        .then(function (text) { if (text) found(text); else say(root.dataset.msgUnreadable); },
              function () { say(root.dataset.msgUnreadable); });
    };
    image.onerror = function () { say(root.dataset.msgUnreadable); };
    image.src = URL.createObjectURL(file);
  });
})();
