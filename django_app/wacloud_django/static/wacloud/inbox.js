// The web inbox's small behaviours: keep the thread scrolled to the newest message,
// quick replies into the composer, copy and reveal buttons. Everything else is htmx.
(function () {
  "use strict";
  function stickToBottom(thread, wasAtBottom) {
    if (thread && wasAtBottom !== false) thread.scrollTop = thread.scrollHeight;
  }
  var atBottom = true;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var thread = document.getElementById("thread");
    if (thread) atBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 40;
  });
  document.addEventListener("htmx:afterSettle", function () {
    stickToBottom(document.getElementById("thread"), atBottom);
  });
  document.addEventListener("DOMContentLoaded", function () {
    stickToBottom(document.getElementById("thread"), true);
    connectLive(1000);
  });
  // A swapped-in element listens only once htmx has settled it: an event that arrives in
  // between reaches no listener, so one catch-up follows the settle. (An element swapped out
  // again before it settled no longer counts: its settle never reaches the document.)
  var unsettled = [], missed = false;
  function stillUnsettled(settled) {
    unsettled = unsettled.filter(function (el) { return el !== settled && el.isConnected; });
    return unsettled.length > 0;
  }
  document.addEventListener("htmx:afterSwap", function (event) { unsettled.push(event.target); });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!stillUnsettled(event.target) && missed) {
      missed = false;
      htmx.trigger(document.body, "wacloud:live", {event: "caught-up"});
    }
  });
  function deliver(detail) {
    if (stillUnsettled(null)) missed = true;
    htmx.trigger(document.body, "wacloud:live", detail);
  }
  // Live events (Django Channels): each one refreshes the list or the thread at once.
  // body[data-live="open"] pauses the polling while the socket is up; it resumes when it drops.
  function connectLive(retryMs) {
    var url = document.body.dataset.liveUrl;
    if (!url || !window.WebSocket || !window.htmx) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var query = "?organization=" + encodeURIComponent(document.body.dataset.organization || "");
    var socket = new WebSocket(scheme + location.host + url + query);
    socket.onopen = function () {
      retryMs = 1000;
      document.body.dataset.live = "open";
      // Events sent before the socket opened (while the page loaded, or while it was down)
      // reached nobody: catch up once on every open.
      deliver({event: "connected"});
    };
    socket.onmessage = function (message) {
      deliver(JSON.parse(message.data));
    };
    socket.onclose = function (event) {
      delete document.body.dataset.live;
      if (event.code === 4403 || event.code === 4404) return;  // not allowed: polling only
      setTimeout(function () { connectLive(Math.min(retryMs * 2, 30000)); }, retryMs);
    };
  }
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target.matches("button.quick")) {
      var body = document.getElementById("composer-body");
      if (body) { body.value = target.dataset.text; body.focus(); }
    } else if (target.dataset.copy) {
      var field = document.getElementById(target.dataset.copy);
      var text = field.value;
      if (navigator.clipboard) navigator.clipboard.writeText(text);
      else { field.type = "text"; field.select(); document.execCommand("copy"); }
      target.textContent = "Copied";
    } else if (target.dataset.reveal) {
      var secret = document.getElementById(target.dataset.reveal);
      secret.type = secret.type === "password" ? "text" : "password";
      target.textContent = secret.type === "password" ? "Show" : "Hide";
    }
  });
})();
