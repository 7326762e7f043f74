// The Mini App's first page: hand Telegram's initData to the server, which checks it
// and signs this browser in, then go to the page the button named.
(function () {
  "use strict";
  var status = document.getElementById("mini-app-status");
  var app = window.Telegram && window.Telegram.WebApp;
  if (!app || !app.initData) {
    status.textContent = status.getAttribute("data-outside") || "请在 Telegram 中打开 / Open this in Telegram";
    return;
  }
  app.ready();
  app.expand();
  var body = new URLSearchParams();
  body.set("init_data", app.initData);
  body.set("to", new URLSearchParams(window.location.search).get("to") || "");
  fetch("/app/session", { method: "POST", body: body, credentials: "same-origin" })
    .then(function (response) {
      return response.json().then(function (data) {
        if (response.ok && data.go) {
          window.location.replace(data.go);
        } else {
          status.textContent = data.error || "⛔";
          status.className = "refusal big";
        }
      });
    })
    .catch(function () {
      status.textContent = "⛔";
    });
})();
