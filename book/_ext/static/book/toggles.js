// The menu buttons. pydata-sphinx-theme wires the sidebar dialogs to the *first*
// .primary-toggle and .secondary-toggle of the page, buttons that sphinx-book-theme hides; the
// buttons the reader sees (in the article header) only showed their tooltip. Here a click on a
// visible toggle opens the dialog on narrow screens (where the sidebars are dialogs) and, on
// wide screens, shows or hides the table of contents on the left.
document.addEventListener("DOMContentLoaded", () => {
  const narrow = window.matchMedia("(max-width: 991.98px)");
  for (const selector of [".primary-toggle", ".secondary-toggle"]) {
    const [wired, ...others] = document.querySelectorAll(selector);
    if (!wired) continue;
    for (const button of others) {
      button.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        if (narrow.matches) {
          wired.click();
        } else if (selector === ".primary-toggle") {
          document.body.classList.toggle("book-primary-sidebar-hidden");
        }
      }, true);
    }
  }
});
