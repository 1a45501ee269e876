// Accessibility repairs of the theme's markup, checked by axe-core in tests/test_browser.py.
// - Buttons with visible text (the search field: "Search Ctrl+K", a code cell's "Show code cell
//   source" toggle) are named by that text, not by a shorter aria-label (WCAG 2.5.3, label in
//   name: a speech-input user says what they see).
// - Icon-only buttons keep their aria-label; their icons are decoration for screen readers,
//   and the colour-mode icons lose their own titles ("Light", "Dark", ...), which screen
//   readers would otherwise read as the button's visible text (the button's tooltip stays).
// - The bibliography: docutils marks the list of citations role="list" but each citation
//   role="doc-biblioentry", which is no list item; its entries become list items.
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button[aria-label], summary[aria-label]")) {
    const visible = (button.innerText || "").trim();
    if (visible) {
      button.removeAttribute("aria-label");
    }
    for (const icon of button.querySelectorAll("i, span.fa-solid, span[class*='fa-']")) {
      if (!(icon.textContent || "").trim()) icon.setAttribute("aria-hidden", "true");
    }
    if (!visible) {
      for (const titled of button.querySelectorAll("[title]")) titled.removeAttribute("title");
    }
  }
  for (const entry of document.querySelectorAll(".citation-list[role='list'] > [role='doc-biblioentry']")) {
    entry.setAttribute("role", "listitem");
  }
});
