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

  // The manager typesets widget labels with MathJax 2's API; the book loads MathJax 3.
  // Translate, once MathJax 3 has replaced its configuration object (before the manager runs,
  // which waits for the page's load event).
  document.addEventListener("DOMContentLoaded", function () {
    var mathjax = window.MathJax;
    if (mathjax && !mathjax.Hub) {
      mathjax.Hub = {
        Queue: function (command) {
          var element = Array.isArray(command) ? command[2] : undefined;
          if (mathjax.typesetPromise) {
            mathjax.typesetPromise(element ? [element] : undefined);
          }
        }
      };
    }
  });
})();
