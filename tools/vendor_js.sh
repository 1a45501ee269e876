#!/usr/bin/env bash
# Re-create vendor/: the JavaScript the built book needs, so that its pages render offline
# (no CDN): MathJax for the equations, require.js and the ipywidgets HTML manager for the
# saved state of widgets. Pinned versions from the npm registry; the results are committed,
# so building the book never downloads anything. Run from the repository's root.
set -euo pipefail
MATHJAX=3.2.2
REQUIREJS=2.3.7
HTML_MANAGER=1.0.14
work=$(mktemp -d)
(cd "$work" && npm pack --silent mathjax@$MATHJAX requirejs@$REQUIREJS \
    @jupyter-widgets/html-manager@$HTML_MANAGER >/dev/null)
for f in "$work"/*.tgz; do mkdir -p "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
rm -rf vendor && mkdir -p vendor/mathjax/output/chtml/fonts vendor/widgets
cp "$work"/mathjax-$MATHJAX/package/es5/tex-chtml.js vendor/mathjax/
cp -r "$work"/mathjax-$MATHJAX/package/es5/output/chtml/fonts/woff-v2 vendor/mathjax/output/chtml/fonts/
cp "$work"/requirejs-$REQUIREJS/package/require.js vendor/widgets/require.js
cp "$work"/jupyter-widgets-html-manager-$HTML_MANAGER/package/dist/embed-amd.js vendor/widgets/
printf 'mathjax %s\nrequirejs %s\n@jupyter-widgets/html-manager %s\n' $MATHJAX $REQUIREJS $HTML_MANAGER > vendor/VERSIONS
rm -rf "$work"
du -sh vendor
