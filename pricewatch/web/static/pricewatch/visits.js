// Visit duration: a heartbeat every 15 s while the product page is visible, and a leave beacon.
// The server measures the time itself from when beacons arrive; nothing about the visitor is sent.
(function () {
  "use strict";
  var script = document.currentScript;
  var key = script && script.dataset.visit;
  if (!key || !navigator.sendBeacon) return;
  if (document.cookie.indexOf("pw_vs=") === -1) {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    var session = Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
    // A session cookie (no expiry), first-party, read only to group views of one visit.
    document.cookie = "pw_vs=" + session + "; path=/; SameSite=Strict";
  }
  var base = "/api/v1/visits/" + encodeURIComponent(key);
  var timer = null;
  function send(kind) {
    navigator.sendBeacon(base + "/" + kind, new Blob([], { type: "text/plain" }));
  }
  function start() {
    if (timer === null) timer = setInterval(function () { send("heartbeat"); }, 15000);
  }
  function stop() {
    if (timer !== null) { clearInterval(timer); timer = null; }
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { stop(); send("end"); } else { start(); }
  });
  window.addEventListener("pagehide", function () { stop(); send("end"); });
  if (document.visibilityState === "visible") start();
})();
