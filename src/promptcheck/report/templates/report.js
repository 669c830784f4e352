(function () {
  "use strict";
  var box = document.getElementById("only-changed");
  var shown = document.getElementById("shown");
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.case"));
  function apply() {
    var visible = 0;
    rows.forEach(function (row) {
      var hide = box.checked && row.getAttribute("data-attention") !== "1";
      row.hidden = hide;
      if (!hide) { visible += 1; }
    });
    shown.textContent = visible + " of " + rows.length + " cases shown";
  }
  box.addEventListener("change", apply);
  apply();
})();
