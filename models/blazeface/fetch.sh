#!/usr/bin/env bash
# Re-derives blazeface.json and blazeface.bin from the npm package they come from and checks
# their sha256 sums against README.md. Needs npm and network access to the npm registry.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent @vladmandic/human@3.3.6 >/dev/null
tar xzf vladmandic-human-3.3.6.tgz package/models/blazeface.json package/models/blazeface.bin
status=0
for f in blazeface.json blazeface.bin; do
  want=$(grep -E "^\| $f \|" "$here/README.md" | sed -E 's/.*`([0-9a-f]{64})`.*/\1/')
  got=$(sha256sum "package/models/$f" | cut -d' ' -f1)
  if [ "$want" = "$got" ]; then echo "ok   $f $got"; else echo "FAIL $f: package has $got, README says $want"; status=1; fi
  if [ "${1:-}" = "--write" ]; then cp "package/models/$f" "$here/$f"; fi
done
exit $status
