// Accessibility repairs of the theme's markup, checked by axe-core in tests/test_browser.py.
// - Buttons with visible text (the search field: "Search Ctrl+K", a code cell's "Show code cell
//   source" toggle) are named by that text, not by a shorter aria-label (WCAG 2.5.3, label in
//   name: a speech-input user says what they see).
// - Icon-only buttons keep their aria-label; their icons are decoration for screen readers. The
//   colour-mode icons carry their own titles ("Light", "Dark", ...), which screen readers would
//   read as the button's visible text (the button's tooltip stays). Font Awesome's script turns
//   the <i> icons into <svg> ones with a <title> element, before or after this script runs, so
//   each such button is repaired again whenever its contents change.
// - The bibliography: docutils marks the list of citations role="list" but each citation
//   role="doc-biblioentry", which is no list item; its entries become list items.
(() => {
  const ICONS = "i, svg, span.fa-solid, span[class*='fa-']";

  function repairIconButton(button) {
    for (const icon of button.querySelectorAll(ICONS)) {
      if (!(icon.textContent || "").trim() || icon.tagName.toLowerCase() === "svg") {
        if (icon.getAttribute("aria-hidden") !== "true") icon.setAttribute("aria-hidden", "true");
      }
    }
    for (const titled of button.querySelectorAll("[title]")) titled.removeAttribute("title");
    for (const title of button.querySelectorAll("svg title")) title.remove();
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const button of document.querySelectorAll("button[aria-label], summary[aria-label]")) {
      if ((button.innerText || "").trim()) {
        button.removeAttribute("aria-label");
        continue;
      }
      repairIconButton(button);
      new MutationObserver(() => repairIconButton(button)).observe(button, {
        childList: true, subtree: true, attributes: true, attributeFilter: ["title"],
      });
    }
    for (const entry of document.querySelectorAll(
      ".citation-list[role='list'] > [role='doc-biblioentry']")) {
      entry.setAttribute("role", "listitem");
    }
  });
})();
