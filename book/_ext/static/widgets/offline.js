// Lets the vendored ipywidgets HTML manager (vendor/widgets/embed-amd.js) draw a notebook's
// saved widget state without the internet. Loaded after require.js, before embed-amd.js.
(function () {
  "use strict";
  var script = document.currentScript.src;
  var here = script.slice(0, script.lastIndexOf("/") + 1);   // .../_static/widgets/

  // The manager finds its fonts next to the URL require.js gives its modules; by default that
  // is relative to the page. Point every module it defines at this folder.
  var modules = ["@jupyter-widgets/base", "@jupyter-widgets/controls",
                 "@jupyter-widgets/base7", "@jupyter-widgets/controls7",
                 "@jupyter-widgets/html-manager",
                 "@jupyter-widgets/html-manager/dist/libembed-amd"];
  var paths = {};
  modules.forEach(function (name) { paths[name] = here + "embed-amd"; });
  window.require.config({ paths: paths });

  // The manager typesets widget labels with MathJax 2's API (MathJax.Hub.Queue); the book
  // loads MathJax 3. Add a Hub that hands the request to MathJax 3, looking MathJax up when it
  // is called (MathJax 3 replaces its configuration object when it loads) and waiting for its
  // start-up. Installed before the manager draws anything: it waits for the load event, and
  // these listeners were registered first.
  function typeset(element) {
    var mathjax = window.MathJax;
    if (!mathjax || !mathjax.typesetPromise) {
      return;
    }
    var ready = mathjax.startup && mathjax.startup.promise ? mathjax.startup.promise
                                                           : Promise.resolve();
    ready.then(function () { return mathjax.typesetPromise(element ? [element] : undefined); });
  }
  function bridge() {
    var mathjax = window.MathJax;
    if (mathjax && !mathjax.Hub) {
      mathjax.Hub = {
        Queue: function (command) { typeset(Array.isArray(command) ? command[2] : undefined); }
      };
    }
  }
  document.addEventListener("DOMContentLoaded", bridge);
  window.addEventListener("load", bridge);
})();

// A saved widget is a snapshot: without a kernel its controls change nothing, so none of them
// may be operated. Whatever the manager draws inside a widget area is disabled as it appears:
// form controls get `disabled`, focusable parts (the slider's handle) leave the tab order,
// editable readouts become plain text, and the area is marked for assistive technology. Its
// figures get alt text naming the settings they were saved at ("at learning rate 0.1, ...").
(function () {
  "use strict";
  var FORM = "input, select, textarea, button";
  function settings(area) {
    var parts = [];
    area.querySelectorAll(".widget-inline-hbox").forEach(function (box) {
      var label = box.querySelector(".widget-label");
      var value = box.querySelector(".widget-readout, select, .mod-active, input[type=text]");
      if (!label || !label.textContent.trim() || !value) { return; }
      var text = value.tagName === "SELECT" ? value.options[value.selectedIndex].text
               : value.tagName === "INPUT" ? value.value : value.textContent;
      parts.push(label.textContent.trim() + " " + text.trim());
    });
    return parts;
  }
  function freeze(area) {
    var shown = settings(area);
    area.querySelectorAll("img:not([alt])").forEach(function (img) {
      img.alt = "Figure of the saved live widget" +
                (shown.length ? ", at " + shown.join(", ") : "") +
                " (a snapshot: it changes only with a running kernel)";
    });
    area.setAttribute("aria-disabled", "true");
    area.querySelectorAll(FORM).forEach(function (el) { el.disabled = true; });
    area.querySelectorAll("[tabindex]").forEach(function (el) {
      el.setAttribute("tabindex", "-1");
    });
    area.querySelectorAll("[contenteditable]").forEach(function (el) {
      el.setAttribute("contenteditable", "false");
    });
    area.querySelectorAll("[role=slider]:not([aria-label])").forEach(function (handle) {
      var box = handle.closest(".widget-inline-hbox");
      var label = box && box.querySelector(".widget-label");
      handle.setAttribute("aria-label", (label && label.textContent.trim()) || "saved setting");
      handle.setAttribute("aria-disabled", "true");
    });
  }
  function freezeAll() {
    document.querySelectorAll(".widget-subarea").forEach(freeze);
  }
  function watch() {
    freezeAll();
    new MutationObserver(freezeAll).observe(document.body, { childList: true, subtree: true });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", watch);
  } else {
    watch();
  }
})();
