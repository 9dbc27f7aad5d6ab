// Every console page and the audit page: a table wider than its card scrolls sideways inside
// it (.table-scroll, table_scroll.css), which a phone shows as a table cut at the card's edge,
// with nothing to say there is more.
// Above each such table a caption says so, shown only while the table overflows: rows drawn
// later, a resize or a turned phone re-measure it.
"use strict";
(() => {
  function hintFor(box) {
    const hint = document.createElement("p");
    hint.className = "scroll-hint";
    hint.textContent = "Scroll sideways for more columns →";
    hint.setAttribute("aria-hidden", "true"); // what a screen reader reads has no edge
    hint.hidden = true;
    box.before(hint);
    return hint;
  }

  function watch(box) {
    const hint = hintFor(box);
    const measure = () => {
      hint.hidden = box.scrollWidth <= box.clientWidth;
    };
    const sizes = new ResizeObserver(measure);
    sizes.observe(box);
    for (const child of box.children) sizes.observe(child);
  }

  document.querySelectorAll(".table-scroll").forEach(watch);
})();
