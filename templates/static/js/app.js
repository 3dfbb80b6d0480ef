// Small behaviours for the dashboard. Everything is delegated from `document` or found anew on
// each tick, so it keeps working after htmx swaps parts of the page.
(function () {
  "use strict";

  // QR expiry countdown: <span data-expires-at="ISO" data-now="ISO">. `data-now` is the
  // server's clock when it rendered the element, so a client clock that is off does not matter.
  function tickCountdowns() {
    document.querySelectorAll("[data-expires-at]").forEach(function (el) {
      if (el.dataset.offsetMs === undefined) {
        var serverNow = Date.parse(el.dataset.now || "");
        el.dataset.offsetMs = String(isNaN(serverNow) ? 0 : serverNow - Date.now());
      }
      var expiresAt = Date.parse(el.dataset.expiresAt);
      if (isNaN(expiresAt)) return;
      var leftMs = expiresAt - (Date.now() + Number(el.dataset.offsetMs));
      var seconds = Math.max(0, Math.ceil(leftMs / 1000));
      el.textContent = String(seconds);
      el.closest(".countdown") && el.closest(".countdown").classList.toggle("expired", seconds === 0);
    });
  }
  setInterval(tickCountdowns, 250);
  document.addEventListener("DOMContentLoaded", tickCountdowns);
  document.addEventListener("htmx:afterSwap", tickCountdowns);

  // Live event monitor: <div data-event-stream="URL" data-event-types="a,b">. Each event of the
  // live stream (with the dashboard's login) has the monitor ask its feed at once (htmx listens
  // for `gateway-event` on body); while the stream is away the feed is asked every 2 s.
  function watchEventStream() {
    var el = document.querySelector("[data-event-stream]");
    if (!el || el.dataset.watching || !window.EventSource) return;
    el.dataset.watching = "1";
    var pending = false;
    function changed() {
      if (pending) return;
      pending = true;
      setTimeout(function () {
        pending = false;
        document.body.dispatchEvent(new Event("gateway-event"));
      }, 150);
    }
    var source = new EventSource(el.dataset.eventStream, { withCredentials: true });
    el.dataset.eventTypes.split(",").forEach(function (type) {
      source.addEventListener(type, changed);
    });
    var fallback = null;
    source.onopen = function () {
      el.dataset.connected = "1";
      if (fallback) { clearInterval(fallback); fallback = null; }
    };
    source.onerror = function () {
      el.dataset.connected = "";
      if (!fallback) fallback = setInterval(changed, 2000);
    };
  }
  document.addEventListener("DOMContentLoaded", watchEventStream);

  // Copy buttons: <button data-copy="element-id">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.dataset.copy);
    if (!source) return;
    var text = source.textContent.trim();
    var done = function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      // Plain http on another host has no clipboard API: select the text and copy that.
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      if (document.execCommand("copy")) done();
    }
  });

  // "Not answering" banner: shown when a request cannot reach the gateway (network error,
  // timeout, or a proxy's 502/504), hidden again by the next answer. Pages that poll tell us
  // through htmx; when nothing answered for a while, we ask /health ourselves (any answer,
  // even 503 for a broker that is down, means the gateway itself is there).
  var lastAnswerMs = Date.now();
  var pinging = false;
  function unreachable(status) { return status === 0 || status === 502 || status === 504; }
  function setReachable(reachable) {
    var banner = document.getElementById("offline-banner");
    if (reachable) lastAnswerMs = Date.now();
    if (banner) banner.hidden = reachable;
    document.body && document.body.classList.toggle("gateway-offline", !reachable);
  }
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail && event.detail.xhr;
    setReachable(!!xhr && !unreachable(xhr.status));
  });
  document.addEventListener("htmx:timeout", function () { setReachable(false); });
  function ping() {
    var banner = document.getElementById("offline-banner");
    if (!banner || pinging || Date.now() - lastAnswerMs < 4000) return;
    pinging = true;
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, 3000);
    fetch(banner.dataset.pingUrl, { cache: "no-store", signal: controller.signal })
      .then(function (response) { setReachable(!unreachable(response.status)); })
      .catch(function () { setReachable(false); })
      .finally(function () { clearTimeout(timer); pinging = false; });
  }
  setInterval(ping, 2000);

  // Confirm before plain (non-htmx) form posts: <form data-confirm="Sure?">.
  document.addEventListener("submit", function (event) {
    var message = event.target.dataset && event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });
})();
