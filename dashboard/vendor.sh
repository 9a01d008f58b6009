#!/usr/bin/env bash
# Copies the dashboard's front-end libraries from npm into site/vendor, with their licences.
# The copies are committed, so `go build` alone makes the dashboard; run this only to change a
# version (edit package.json, then `bash dashboard/vendor.sh`, then commit package-lock.json and
# site/vendor). Nothing is bundled or transpiled: the files are the packages' own ES modules.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --ignore-scripts
out=site/vendor
rm -rf "$out"
mkdir -p "$out/leaflet" "$out/uplot" "$out/idb"

# copy SRC DST: the file without its source-map comment (the maps are not shipped, and a
# browser's developer tools would otherwise ask the server for them).
copy() { sed -e '/^\/\/# sourceMappingURL=/d' "$1" > "$2"; }

copy node_modules/leaflet/dist/leaflet-src.esm.js "$out/leaflet/leaflet-src.esm.js"
cp node_modules/leaflet/dist/leaflet.css "$out/leaflet/leaflet.css"
cp node_modules/leaflet/LICENSE "$out/leaflet/LICENSE"

copy node_modules/uplot/dist/uPlot.esm.js "$out/uplot/uPlot.esm.js"
cp node_modules/uplot/dist/uPlot.min.css "$out/uplot/uPlot.min.css"
cp node_modules/uplot/LICENSE "$out/uplot/LICENSE"

copy node_modules/idb/build/index.js "$out/idb/index.js"
cp node_modules/idb/LICENSE "$out/idb/LICENSE"

{
  echo "Vendored by dashboard/vendor.sh from the npm registry; do not edit by hand."
  for p in leaflet uplot idb; do
    node -e 'const p=require("./node_modules/'"$p"'/package.json"); console.log(`${p.name} ${p.version} (${p.license})`)'
  done
} > "$out/VERSIONS.txt"
echo "vendored into $out:"
cat "$out/VERSIONS.txt"
