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
