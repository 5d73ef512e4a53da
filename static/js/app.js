// Wavora dashboard: small progressive enhancements only; every page works without them.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof HTMLElement && target.hasAttribute("data-autosubmit") && target.form) {
      target.form.submit();
    }
  });
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLElement)) return;
    var toggle = target.closest("[data-toggle-sidebar]");
    if (toggle) {
      var open = document.body.classList.toggle("sidebar-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    }
    var copy = target.closest("[data-copy]");
    if (copy && navigator.clipboard) {
      navigator.clipboard.writeText(copy.getAttribute("data-copy") || "");
      copy.classList.add("copied");
    }
    var confirmable = target.closest("[data-confirm]");
    if (confirmable && !window.confirm(confirmable.getAttribute("data-confirm") || "")) {
      event.preventDefault();
    }
  });
  // `window.wavora.poll(url, ms, onData)`: poll a JSON endpoint (used by live progress bars).
  window.wavora = {
    poll: function (url, ms, onData) {
      var stopped = false;
      function tick() {
        if (stopped) return;
        fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (data) { if (data && onData(data) === false) { stopped = true; } })
          .catch(function () {})
          .finally(function () { if (!stopped) setTimeout(tick, ms); });
      }
      tick();
      return function () { stopped = true; };
    },
    csrfToken: function () {
      var match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
      return match ? decodeURIComponent(match[1]) : "";
    },
  };
})();
