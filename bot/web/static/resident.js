// The residents' page: keep a ballot's tally fresh while it is open, and make a form
// count once when an impatient finger presses twice (the server counts it once anyway:
// each form carries a nonce). No inline script: the CSP forbids it.
(function () {
  "use strict";
  var EVERY = 4000; // ms between refreshes of an open ballot's tally

  function refresh(box) {
    if (document.hidden) {
      return;
    }
    fetch(box.getAttribute("data-src"), { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.text();
      })
      .then(function (html) {
        box.innerHTML = html;
        var inner = box.querySelector(".tally-box");
        if (inner && inner.getAttribute("data-open") === "0") {
          // Closed meanwhile: draw the page again, with the outcome and its chart.
          window.location.reload();
        }
      })
      .catch(function () {
        /* a lost refresh is retried on the next tick */
      });
  }

  var box = document.getElementById("tally");
  if (box) {
    var inner = box.querySelector(".tally-box");
    if (inner && inner.getAttribute("data-open") === "1") {
      window.setInterval(function () {
        refresh(box);
      }, EVERY);
    }
  }

  var forms = document.querySelectorAll("form.once");
  Array.prototype.forEach.call(forms, function (form) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-sent") === "1") {
        event.preventDefault();
        return;
      }
      form.setAttribute("data-sent", "1");
      form.classList.add("sending");
    });
  });
})();
