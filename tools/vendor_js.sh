#!/usr/bin/env bash
# Re-create vendor/: the JavaScript the built book needs, so that its pages render offline
# (no CDN). Pinned versions from the npm registry; the result is committed, so building the book
# never downloads anything. Run from the repository's root.
#   - MathJax, for the equations;
#   - require.js and the ipywidgets HTML manager (embed-amd.js, with the standard controls and
#     the Output widget built in, plus the Font Awesome fonts its CSS asks for), which draw a
#     notebook's saved widget state on the static page. book/_ext/static/widgets/offline.js
#     points the manager at these files (see _config.yml, nb_ipywidgets_js);
#   - reveal.js (its core, the white theme with its fonts and the speaker-notes plugin), for the
#     chapters' slide decks (book/_ext/slides.py).
set -euo pipefail
MATHJAX=3.2.2
REQUIREJS=2.3.7
HTML_MANAGER=1.0.15
REVEAL=5.2.1
work=$(mktemp -d)
(cd "$work" && npm pack --silent mathjax@$MATHJAX requirejs@$REQUIREJS \
    @jupyter-widgets/html-manager@$HTML_MANAGER reveal.js@$REVEAL >/dev/null)
for f in "$work"/*.tgz; do mkdir -p "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
rm -rf vendor && mkdir -p vendor/mathjax/output/chtml/fonts vendor/widgets
cp "$work"/mathjax-$MATHJAX/package/es5/tex-chtml.js vendor/mathjax/
cp -r "$work"/mathjax-$MATHJAX/package/es5/output/chtml/fonts/woff-v2 vendor/mathjax/output/chtml/fonts/
cp "$work"/requirejs-$REQUIREJS/package/require.js vendor/widgets/
manager="$work"/jupyter-widgets-html-manager-$HTML_MANAGER/package/dist
# The source-map comment would make a browser's developer tools ask for a file we do not ship.
sed '/^\/\/# sourceMappingURL=/d' "$manager"/embed-amd.js > vendor/widgets/embed-amd.js
cp "$manager"/*.woff2 vendor/widgets/   # browsers take the first format they support: woff2
cp "$manager"/embed.js.LICENSE.txt vendor/widgets/LICENSE-third-party.txt
cat > vendor/widgets/NOTICE.md <<NOTICE
# Licenses of the files in this folder

- \`embed-amd.js\`: @jupyter-widgets/html-manager $HTML_MANAGER (Project Jupyter), BSD-3-Clause.
  The bundled third-party code's notices, as the package ships them, are in
  \`LICENSE-third-party.txt\` (the bundle's banners name per-chunk files that the npm package
  does not include; this is the one it does).
- \`*.woff2\`: Font Awesome fonts (4.7 and 5 Free) that the manager's CSS uses, SIL Open Font License 1.1.
- \`require.js\`: RequireJS $REQUIREJS (the Dojo Foundation and contributors), MIT; see its header.
NOTICE
reveal="$work"/reveal.js-$REVEAL/package
mkdir -p vendor/reveal.js/dist/theme vendor/reveal.js/plugin/notes
sed '/^\/\/# sourceMappingURL=/d' "$reveal"/dist/reveal.js > vendor/reveal.js/dist/reveal.js
cp "$reveal"/dist/reveal.css "$reveal"/dist/theme/white.css vendor/reveal.js/dist/
mv vendor/reveal.js/dist/white.css vendor/reveal.js/dist/theme/
cp -r "$reveal"/dist/theme/fonts vendor/reveal.js/dist/theme/
rm -rf vendor/reveal.js/dist/theme/fonts/league-gothic   # only the white theme's font is used
cp "$reveal"/plugin/notes/notes.js vendor/reveal.js/plugin/notes/
cp "$reveal"/LICENSE vendor/reveal.js/
printf 'mathjax %s\nrequirejs %s\n@jupyter-widgets/html-manager %s\nreveal.js %s\n' \
    $MATHJAX $REQUIREJS $HTML_MANAGER $REVEAL > vendor/VERSIONS
rm -rf "$work"
du -sh vendor vendor/*
