document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var asc = th.dataset.dir !== 'asc'; th.dataset.dir = asc ? 'asc' : 'desc';
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.v || a.cells[col].textContent, y = b.cells[col].dataset.v || b.cells[col].textContent;
        var nx = Number(x), ny = Number(y), c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y, 'ja');
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
document.querySelectorAll('input.filter').forEach(function (input) {
  var table = document.getElementById(input.dataset.table);
  input.addEventListener('input', function () {
    var q = input.value.toLowerCase();
    Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
      r.style.display = r.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
    });
  });
});
// 金額照合: "mismatches only" hides the rows (and subtotals) that agree
document.querySelectorAll('input.mismatches').forEach(function (box) {
  var table = document.getElementById(box.dataset.table);
  box.addEventListener('change', function () {
    Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
      r.style.display = box.checked && r.dataset.ok === '1' ? 'none' : '';
    });
  });
});
// folding: open all / close all; a link to a folded section opens it and its parents
function setOpen(open) { document.querySelectorAll('details').forEach(function (d) { d.open = open; }); }
var openAll = document.getElementById('open-all'), closeAll = document.getElementById('close-all');
if (openAll) { openAll.addEventListener('click', function () { setOpen(true); }); }
if (closeAll) { closeAll.addEventListener('click', function () { setOpen(false); }); }
function reveal() {
  var target = location.hash && document.getElementById(location.hash.slice(1));
  for (var el = target; el; el = el.parentElement) { if (el.tagName === 'DETAILS') { el.open = true; } }
}
window.addEventListener('hashchange', reveal); reveal();
// printing: everything open (one municipality per A4 page, report.css), folded again afterwards
var folded = [];
window.addEventListener('beforeprint', function () {
  folded = Array.prototype.filter.call(document.querySelectorAll('details'), function (d) { return !d.open; });
  folded.forEach(function (d) { d.open = true; });
});
window.addEventListener('afterprint', function () { folded.forEach(function (d) { d.open = false; }); folded = []; });
document.body.dataset.ready = 'yes';
