#!/usr/bin/env bash
# Re-derives blazeface.json and blazeface.bin from @vladmandic/human@3.3.6 and checks their
# sums (--write also replaces the files here).
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../fetch.sh" "$here" @vladmandic/human@3.3.6 blazeface.json blazeface.bin "$@"
