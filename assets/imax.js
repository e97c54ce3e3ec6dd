// imax-gateway: the only script is the upload progress bar. Without it the upload form posts
// as a plain form and everything still works.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) { return; }
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var box = document.getElementById("progress-box");
    var bar = document.getElementById("progress");
    var text = document.getElementById("progress-text");
    var button = document.getElementById("upload-button");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.responseType = "document";
    box.hidden = false;
    button.disabled = true;
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        var pct = Math.floor((e.loaded / e.total) * 100);
        bar.value = pct;
        text.textContent = pct + "% sent";
      }
    });
    xhr.upload.addEventListener("load", function () {
      bar.value = 100;
      text.textContent = "Sent; waiting for the receipt…";
    });
    xhr.addEventListener("load", function () {
      if (xhr.response && xhr.response.documentElement) {
        document.replaceChild(document.importNode(xhr.response.documentElement, true), document.documentElement);
        document.title = xhr.response.title;
      } else {
        text.textContent = "The upload ended without an answer (HTTP " + xhr.status + ").";
        button.disabled = false;
      }
    });
    xhr.addEventListener("error", function () {
      text.textContent = "The connection failed; nothing may have been stored. Check Sent to TRACS / Sent to Others before sending again.";
      button.disabled = false;
    });
    xhr.send(new FormData(form));
  });
});
