# shellcheck shell=bash
# Sourced by the scripts (and by hand: `source scripts/env.sh`) before building the wasm preset.
# Debian's emcc runs tools/acorn-optimizer.js at -O1 and above, which needs require('acorn');
# a node that does not search Debian's module folder fails with "Cannot find module 'acorn'".
# NODE_PATH gets the folder that holds Debian's acorn package (normally /usr/share/nodejs).

cnnlens_acorn_json=$(dpkg -L node-acorn 2>/dev/null | grep -m1 '/acorn/package\.json$' || true)
if [[ -n "$cnnlens_acorn_json" ]]; then
    cnnlens_node_modules=$(dirname "$(dirname "$cnnlens_acorn_json")")
else
    cnnlens_node_modules=/usr/share/nodejs
fi
case ":${NODE_PATH:-}:" in
    *":$cnnlens_node_modules:"*) ;;
    *) export NODE_PATH="${NODE_PATH:+$NODE_PATH:}$cnnlens_node_modules" ;;
esac
unset cnnlens_acorn_json cnnlens_node_modules
