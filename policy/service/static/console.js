// Keyboard use of the console: j/k move through the rows of a list, Enter opens the selected row,
// "/" jumps to search, "g" back to the queue. Nothing here is needed to use a page; it only helps.
(function () {
  "use strict";
  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }
  function rows() {
    var table = document.querySelector("table[data-keys=rows]");
    return table ? Array.prototype.slice.call(table.querySelectorAll("tbody tr")).filter(function (r) {
      return r.querySelector("a");
    }) : [];
  }
  var at = -1;
  function select(index) {
    var all = rows();
    if (!all.length) return;
    at = Math.max(0, Math.min(all.length - 1, index));
    all.forEach(function (r, i) { r.classList.toggle("selected", i === at); });
    all[at].querySelector("a").focus();
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (event.key === "j") { select(at + 1); event.preventDefault(); }
    else if (event.key === "k") { select(at - 1); event.preventDefault(); }
    else if (event.key === "/") { window.location.href = "/console/search"; event.preventDefault(); }
    else if (event.key === "g") { window.location.href = "/console/queue"; event.preventDefault(); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var first = document.getElementById("search-first");
    if (first && !first.value) first.focus();
  });
})();
