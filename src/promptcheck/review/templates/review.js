// Keyboard shortcuts of the review pages (the page works without them: radio buttons and links).
(function () {
  "use strict";
  var form = document.getElementById("rate");
  var positions = form ? (form.getAttribute("data-positions") || "").split(" ") : [];
  var locked = form ? form.getAttribute("data-locked") === "yes" : false;
  var answered = 0;

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && target.type === "text");
  }
  function mark() {
    positions.forEach(function (position, index) {
      var side = document.getElementById("side-" + position);
      if (side) { side.classList.toggle("pending", index === answered); }
    });
  }
  function answer(verdict) {
    if (!form || locked || answered >= positions.length) { return; }
    var name = "verdict_" + positions[answered];
    var radio = form.querySelector("input[name='" + name + "'][value='" + verdict + "']");
    if (radio) { radio.checked = true; }
    answered += 1;
    mark();
    if (answered === positions.length) { form.requestSubmit(); }
  }
  function follow(id) {
    var link = document.getElementById(id);
    if (link) { window.location.assign(link.href); }
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (typing(event.target)) {
      if (event.key === "Escape") { event.target.blur(); }
      return;
    }
    var handled = true;
    switch (event.key) {
      case "p": answer("pass"); break;
      case "f": answer("fail"); break;
      case "n": if (form && !locked) { document.getElementById("note").focus(); } break;
      case "l": if (form && !locked) { document.getElementById("label").focus(); } break;
      case "j": follow("next-link"); break;
      case "s": follow("start"); break;
      case "u": window.location.assign(document.querySelector("nav.crumbs a") ?
        document.querySelector("nav.crumbs a").href : "/"); break;
      default: handled = false;
    }
    if (handled) { event.preventDefault(); }
  });
  mark();
})();
