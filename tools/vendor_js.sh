#!/usr/bin/env bash
# Re-create vendor/: the JavaScript the built book needs, so that its pages render offline
# (no CDN): MathJax for the equations. A pinned version from the npm registry; the result is
# committed, so building the book never downloads anything. Run from the repository's root.
set -euo pipefail
MATHJAX=3.2.2
work=$(mktemp -d)
(cd "$work" && npm pack --silent mathjax@$MATHJAX >/dev/null)
for f in "$work"/*.tgz; do mkdir -p "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
rm -rf vendor && mkdir -p vendor/mathjax/output/chtml/fonts
cp "$work"/mathjax-$MATHJAX/package/es5/tex-chtml.js vendor/mathjax/
cp -r "$work"/mathjax-$MATHJAX/package/es5/output/chtml/fonts/woff-v2 vendor/mathjax/output/chtml/fonts/
printf 'mathjax %s\n' $MATHJAX > vendor/VERSIONS
rm -rf "$work"
du -sh vendor
