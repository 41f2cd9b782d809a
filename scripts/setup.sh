#!/usr/bin/env bash
# Installs everything cnnlens needs on Debian 12 and the npm packages of package-lock.json, then
# writes the installed versions to build/versions.txt. Idempotent: when all is present it only
# queries dpkg and node_modules (a second or two), and it runs `apt-get update` only when it
# must install something. Runs unattended (CI=true, no stdin) as root, or through sudo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Debian packages, grouped by what needs them.
deb_packages=(
    build-essential g++ cmake ninja-build           # native builds
    clang-14 libclang-rt-14-dev                     # native-asan and fuzz presets
    clang-format-14                                 # scripts/format.sh (the code's format, checked)
    libgtest-dev googletest                         # tests: native library, sources for wasm
    emscripten node-acorn                           # wasm preset (emcc's optimizer needs acorn)
    libxnnpack-dev libpthreadpool-dev               # xnnpack kernel set (native)
    nlohmann-json3-dev libstb-dev                   # model import, image decoding
    libwebp-dev libavif-dev                         # WebP and AVIF photos (native builds)
    libjpeg-turbo-progs python3-pil                 # tests/data/photos/make_photos.py (jpegtran, PIL)
    libimgui-dev                                    # the web app's ImGui backends
    python3-numpy python3-skimage                   # tests/oracle/make_inputs.py
    python3-torch python3-onnx                      # ONNX fixtures
    libonnx-testdata                                # ONNX's backend node tests (conformance)
    python3-torchvision                             # torchvision fixtures (tests/oracle/torchvision_fixtures.py)
    chromium                                        # browser tests
    python3-pil libavif-bin libjpeg-turbo-progs     # their photos (tests/e2e/make_photos.py: WebP, AVIF, jpegtran)
)
# The machine's node is kept whatever its origin; Debian's is installed only when there is none.
command -v node >/dev/null || deb_packages+=(nodejs)
command -v npm >/dev/null || deb_packages+=(npm)

is_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" == ii* ]]
}

is_listed() {
    local p
    for p in "${deb_packages[@]}"; do [[ "$p" == "$1" ]] && return 0; done
    return 1
}

missing=()
for p in "${deb_packages[@]}"; do
    is_installed "$p" || missing+=("$p")
done

if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo=()
    if ((EUID != 0)); then sudo=(sudo); fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update </dev/null
    "${sudo[@]}" apt-get install -y "${missing[@]}" </dev/null
fi

# npm packages (the TF.js oracle). `npm ci` only when node_modules is older than the lockfile.
# .npmrc sets omit-lockfile-registry-resolved, so the lockfile holds no registry addresses.
# A node_modules that is a symlink (a git worktree sharing another checkout's packages) is left
# alone: npm ci would empty the other checkout's folder before replacing the link.
if [[ -L node_modules ]]; then
    echo "setup: node_modules links to $(readlink node_modules); npm ci is left to that checkout"
elif [[ -f package-lock.json ]]; then
    if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json
          || package.json -nt node_modules/.package-lock.json ]]; then
        echo "setup: npm ci"
        npm ci </dev/null
    fi
else
    echo "setup: npm install (no package-lock.json yet: commit the one it writes)"
    npm install </dev/null
fi
if grep -q '"resolved"' package-lock.json; then
    echo "setup: package-lock.json contains \"resolved\" addresses; keep .npmrc's" \
         "omit-lockfile-registry-resolved=true and regenerate it" >&2
    exit 1
fi

# Versions of what the builds and tests use.
mkdir -p build
{
    echo "# Debian packages"
    for p in "${deb_packages[@]}" $(is_listed nodejs || echo nodejs); do
        printf '%-30s %s\n' "$p" "$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo 'not installed')"
    done
    echo "# tools"
    printf '%-30s %s\n' node "$(node --version)" npm "$(npm --version)"
    echo "# npm packages (package.json)"
    # shellcheck disable=SC2016  # JavaScript for node, not shell
    node -e '
        const pkg = require("./package.json");
        const names = Object.keys({...pkg.dependencies, ...pkg.devDependencies});
        for (const n of names) {
            let v = "not installed";
            try { v = require(`./node_modules/${n}/package.json`).version; } catch {}
            console.log(n.padEnd(30), v);
        }'
} >build/versions.txt
cat build/versions.txt
