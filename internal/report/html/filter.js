// An extra for browsers with scripts on: the page reads the same without it.
(function () {
  "use strict";
  var bar = document.getElementById("filterbar");
  var box = document.getElementById("filter");
  var out = document.getElementById("matches");
  var spaces = Array.prototype.slice.call(document.querySelectorAll("details.space"));
  // Printing shows every space unfolded.
  window.addEventListener("beforeprint", function () {
    spaces.forEach(function (d) { d.open = true; });
  });
  if (!bar || !box) {
    return;
  }
  bar.hidden = false;
  var openAtFirst = spaces.map(function (d) { return d.open; });
  // Past this many matching rows, matches are counted but spaces are not
  // unfolded: laying out tens of thousands of rows takes the browser seconds.
  var unfoldAtMost = 3000;
  var index = null;
  function build() {
    index = spaces.map(function (d) {
      var rows = Array.prototype.slice.call(d.querySelectorAll("tbody tr"));
      return {
        head: d.querySelector("summary").textContent.toLowerCase(),
        rows: rows,
        text: rows.map(function (r) { return r.textContent.toLowerCase(); })
      };
    });
  }
  function apply() {
    var q = box.value.trim().toLowerCase();
    if (!index) {
      build();
    }
    if (q === "") {
      index.forEach(function (s, k) {
        spaces[k].hidden = false;
        spaces[k].open = openAtFirst[k];
        s.rows.forEach(function (r) { r.hidden = false; });
      });
      out.textContent = "";
      return;
    }
    var hits = index.map(function (s) {
      var whole = s.head.indexOf(q) >= 0;
      var marks = [];
      for (var i = 0; i < s.text.length; i++) {
        marks.push(whole || s.text[i].indexOf(q) >= 0);
      }
      return marks;
    });
    var rows = 0, inSpaces = 0;
    hits.forEach(function (marks) {
      var n = marks.filter(Boolean).length;
      rows += n;
      if (n > 0) {
        inSpaces++;
      }
    });
    var unfold = rows <= unfoldAtMost;
    index.forEach(function (s, k) {
      var marks = hits[k];
      var any = marks.indexOf(true) >= 0;
      spaces[k].hidden = !any;
      for (var i = 0; i < s.rows.length; i++) {
        if (s.rows[i].hidden === marks[i]) {
          s.rows[i].hidden = !marks[i];
        }
      }
      if (any && unfold) {
        spaces[k].open = true;
      }
    });
    out.textContent = rows + (rows === 1 ? " row" : " rows") + " in " + inSpaces + (inSpaces === 1 ? " space" : " spaces") +
      (unfold ? "" : ": too many to unfold at once; open a space, or narrow the filter");
  }
  var timer = 0;
  box.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(apply, 120);
  });
})();
