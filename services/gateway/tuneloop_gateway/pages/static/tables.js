// Sortable and filterable tables: a click on a header of a table.sortable sorts its rows by that
// column (again: the other way); a search box with data-filters="TABLE_ID" keeps the rows whose
// first cell contains its text. Without this script the table is plain and complete.
(function () {
  "use strict";

  function cellValue(row, index, kind) {
    var cell = row.cells[index];
    var raw = cell ? (cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent) : "";
    if (kind !== "number") { return raw.trim().toLowerCase(); }
    var value = parseFloat(raw);
    return isNaN(value) ? null : value;  // a missing value ("None", "–") sorts last
  }

  function compare(a, b, descending) {
    if (a === b) { return 0; }
    if (a === null) { return 1; }
    if (b === null) { return -1; }
    var order = a < b ? -1 : 1;
    return descending ? -order : order;
  }

  function sortBy(table, header) {
    var index = header.cellIndex;
    var kind = header.dataset.sort;
    var descending = header.getAttribute("aria-sort") === "ascending";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (x, y) {
      return compare(cellValue(x, index, kind), cellValue(y, index, kind), descending) ||
        compare(cellValue(x, 0, "text"), cellValue(y, 0, "text"), false);
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.querySelectorAll("th[data-sort]"), function (th) {
      th.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
    table.dataset.sortedBy = index + (descending ? ":descending" : ":ascending");
  }

  function makeSortable(table) {
    Array.prototype.forEach.call(table.querySelectorAll("th[data-sort]"), function (header) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.textContent = header.textContent;
      header.textContent = "";
      header.appendChild(button);
      button.addEventListener("click", function () { sortBy(table, header); });
    });
  }

  function makeFilter(input) {
    var table = document.getElementById(input.dataset.filters);
    if (!table) { return; }
    var tools = input.closest(".table-tools");
    if (tools) { tools.hidden = false; }
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        row.hidden = needle !== "" && cellValue(row, 0, "text").indexOf(needle) === -1;
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), makeSortable);
  Array.prototype.forEach.call(document.querySelectorAll("input[data-filters]"), makeFilter);
}());
