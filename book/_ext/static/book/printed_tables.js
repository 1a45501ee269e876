// Printed output comes in two kinds: sentences, which wrap at the column's edge (layout.css),
// and tables -- columns aligned with runs of spaces -- which wrapping would scramble. An output
// with at least two such lines is marked as a table: it keeps its lines and, on a narrow
// screen, scrolls sideways inside its own box.
document.addEventListener("DOMContentLoaded", () => {
  const aligned = /\S {2,}\S/;
  for (const pre of document.querySelectorAll(".bd-article .cell_output pre")) {
    const lines = pre.textContent.split("\n").filter((line) => aligned.test(line));
    if (lines.length >= 2) pre.classList.add("printed-table");
  }
});
