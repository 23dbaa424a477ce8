// Sort a leaderboard table by the column whose header was clicked; a second click reverses the order.
// Rows are only reordered: no text from the data is ever parsed as HTML.
(function () {
  "use strict";
  function cellValue(row, column, numeric) {
    var cell = row.cells[column];
    var raw = cell ? cell.getAttribute("data-value") : null;
    if (numeric) {
      var number = parseFloat(raw);
      return isNaN(number) ? -Infinity : number;
    }
    return (raw === null ? cell.textContent : raw).toLowerCase();
  }
  function sortBy(header) {
    var table = header.closest("table");
    var body = table.tBodies[0];
    var column = parseInt(header.getAttribute("data-column"), 10);
    var numeric = header.getAttribute("data-type") === "number";
    var current = header.getAttribute("aria-sort");
    var direction = current ? (current === "descending" ? "ascending" : "descending")
                            : header.getAttribute("data-first-order");
    var sign = direction === "ascending" ? 1 : -1;
    var rows = Array.prototype.slice.call(body.rows);
    rows.forEach(function (row, index) { row.setAttribute("data-position", String(index)); });
    rows.sort(function (a, b) {
      var x = cellValue(a, column, numeric), y = cellValue(b, column, numeric);
      if (x < y) { return -sign; }
      if (x > y) { return sign; }
      return parseInt(a.getAttribute("data-position"), 10) - parseInt(b.getAttribute("data-position"), 10);
    });
    rows.forEach(function (row) { body.appendChild(row); });
    table.querySelectorAll("th.sortable").forEach(function (other) { other.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", direction);
  }
  document.querySelectorAll("table.board th.sortable").forEach(function (header) {
    header.addEventListener("click", function () { sortBy(header); });
    header.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(header); }
    });
  });
})();
