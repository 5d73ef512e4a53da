// Live device page: new QR codes and "connected" arrive over the WebSocket (/ws/, session auth);
// a slow poll of the status URL covers a dropped socket. No reload needed.
(function () {
  "use strict";
  var root = document.getElementById("device-live");
  if (!root) return;
  var badge = root.querySelector("[data-device-status]");
  var qrBox = root.querySelector("[data-qr-box]");
  var qrImage = root.querySelector("[data-qr-image]");
  var note = root.querySelector("[data-live-note]");
  var linkCard = document.getElementById("link-card");
  var connectedCard = root.querySelector("[data-connected-card]");
  var phone = root.querySelector("[data-device-phone]");
  var done = root.getAttribute("data-status") === "connected";

  function setStatus(status, label) {
    badge.className = "badge badge-" + status;
    badge.textContent = label;
    root.setAttribute("data-status", status);
  }
  function connected(data) {
    if (done) return;
    done = true;
    setStatus("connected", root.getAttribute("data-connected-label"));
    if (data && data.phone && phone) phone.textContent = data.phone;
    if (linkCard) linkCard.hidden = true;
    if (connectedCard) connectedCard.hidden = false;
  }
  function showQr(src) {
    if (!qrImage || !src) return;
    qrImage.src = src;
    qrBox.hidden = false;
    if (note) note.hidden = false;
    setStatus("pairing", badge.textContent);
  }

  function openSocket() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + root.getAttribute("data-ws-path"));
    socket.onmessage = function (message) {
      var body;
      try { body = JSON.parse(message.data); } catch (e) { return; }
      if (body.event === "ready") root.setAttribute("data-ws", "ready");
      if (body.event === "qrcode") showQr(body.data);
      if (body.event === "connection-success") connected(body.data);
    };
    socket.onclose = function () {
      root.setAttribute("data-ws", "closed");
      if (!done) setTimeout(openSocket, 3000);
    };
  }
  if (!done && "WebSocket" in window) openSocket();

  if (!done && window.wavora) {
    window.wavora.poll(root.getAttribute("data-status-url"), 5000, function (data) {
      if (data.status === "connected") { connected(data); return false; }
      return !done;
    });
  }
})();
