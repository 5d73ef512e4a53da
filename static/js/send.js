// Send page: show only the fields the chosen message type uses (the server ignores the others).
(function () {
  "use strict";
  var form = document.getElementById("send-form");
  var spec = document.getElementById("fields-by-type");
  if (!form || !spec) return;
  var byType = JSON.parse(spec.textContent);
  var always = ["device_id", "to", "type"];
  var select = form.querySelector("select[name=type]");
  function update() {
    var wanted = always.concat(byType[select.value] || []);
    form.querySelectorAll(".send-field").forEach(function (el) {
      el.hidden = wanted.indexOf(el.getAttribute("data-name")) === -1;
    });
  }
  select.addEventListener("change", update);
  update();
})();
