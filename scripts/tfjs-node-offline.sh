#!/usr/bin/env bash
# Installs @tensorflow/tfjs-node without its download: the native addon is compiled against the
# TensorFlow shared libraries and C headers that PyPI's `tensorflow-cpu` wheel ships
# (libtensorflow_cc.so.2 exports the C and eager C APIs the addon calls; libtensorflow_framework.so.2
# the rest). Needs only the npm and PyPI registries, python3, a C++ compiler and make. Then compiles
# tfjs-trust's own kernels (native/kernels.cc) beside the addon, against the same TensorFlow.
# See docs/backends.md. `npm run setup:native` runs it.
#
#   scripts/tfjs-node-offline.sh [--force] [project-dir]   (default: the current directory)
#
# Idempotent: where tfjs-node already loads and computes (installed from npm, or built here
# before) it is kept, and the kernels are compiled only when missing or older than their source;
# --force rebuilds both. Steps already done (the wheel, the npm package) are
# skipped, so after `npm ci` it only reinstalls and recompiles the addon (~2 minutes).
# Environment: TFJS_NODE_VENV (where the wheel goes; default ~/.cache/tfjs-trust/venv-tf),
# TENSORFLOW_CPU_SPEC (pip requirement; default tensorflow-cpu, tested with 2.21.0).
# The project's package.json is not changed (npm install --no-save); run it again after `npm ci`.
set -euo pipefail

FORCE=0
if [ "${1:-}" = "--force" ]; then FORCE=1; shift; fi
PROJECT=$(cd "${1:-.}" && pwd)
KERNELS_SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../native" && pwd)/kernels.cc
VENV=${TFJS_NODE_VENV:-$HOME/.cache/tfjs-trust/venv-tf}
SPEC=${TENSORFLOW_CPU_SPEC:-tensorflow-cpu}
say() { echo "tfjs-node-offline: $*" >&2; }
cd "$PROJECT"

# Proof that the 'tensorflow' backend comes up and computes (a 3x3 convolution of ones sums to 36).
works() {
  node -e '
    const tf = require("@tensorflow/tfjs-node");
    const sum = tf.sum(tf.conv2d(tf.ones([1, 4, 4, 1]), tf.ones([3, 3, 1, 1]), 1, "valid")).dataSync()[0];
    if (tf.getBackend() !== "tensorflow" || sum !== 36) process.exit(1);
  ' 2>/dev/null
}
NODE_PREFIX=$(dirname "$(dirname "$(node -p process.execPath)")")
ADDON="$PROJECT/node_modules/@tensorflow/tfjs-node"

build_addon() {
  # 0. What the build needs, all reported in one line.
  missing=()
  command -v python3 >/dev/null || missing+=("python3 (apt-get install python3 python3-venv)")
  command -v python3 >/dev/null && ! python3 -c 'import venv, ensurepip' 2>/dev/null && [ ! -x "$VENV/bin/pip" ] &&
    missing+=("python3's venv module (apt-get install python3-venv)")
  command -v "${CXX:-g++}" >/dev/null || command -v c++ >/dev/null || missing+=("a C++ compiler (apt-get install g++)")
  command -v make >/dev/null || missing+=("make (apt-get install make)")
  [ -e "$NODE_PREFIX/include/node/node_api.h" ] || missing+=("Node's C headers under $NODE_PREFIX/include/node (a full Node install, e.g. nodejs.org's tarball)")
  if [ ${#missing[@]} -gt 0 ]; then
    say "cannot build tfjs-node: missing $(IFS=';'; echo "${missing[*]}" | sed 's/;/; /g'); or, with network, npm install @tensorflow/tfjs-node"
    exit 1
  fi

  # 1. The wheel, without its Python dependencies: only its shared libraries and headers are used.
  find_tf() { "$VENV/bin/python" -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("tensorflow").origin))' 2>/dev/null; }
  if [ ! -x "$VENV/bin/pip" ]; then python3 -m venv "$VENV"; fi
  if [ -n "${TENSORFLOW_CPU_SPEC:-}" ] || ! find_tf >/dev/null; then
    "$VENV/bin/pip" install --quiet --no-deps "$SPEC"
  fi
  TF=$(find_tf)
  for needed in include/tensorflow/c/c_api.h include/tensorflow/c/eager/c_api.h libtensorflow_cc.so.2 libtensorflow_framework.so.2; do
    [ -e "$TF/$needed" ] || { say "the wheel at $TF has no $needed; this TensorFlow version cannot be used"; exit 1; }
  done
  say "TensorFlow libraries and headers from $TF"

  # 2. tfjs-node at the project's tfjs-core version, without its install script (the download).
  CORE_VERSION=$(node -p 'require("@tensorflow/tfjs-core/package.json").version')
  INSTALLED=$(node -p 'require("@tensorflow/tfjs-node/package.json").version' 2>/dev/null || true)
  if [ "$INSTALLED" != "$CORE_VERSION" ]; then
    npm install --no-save --ignore-scripts --no-audit --no-fund "@tensorflow/tfjs-node@$CORE_VERSION"
  fi

  # 3. deps/ laid out as its binding.gyp expects: -ltensorflow resolves to the wheel's C API library.
  rm -rf "$ADDON/deps" && mkdir -p "$ADDON/deps/lib"
  ln -s "$TF/include" "$ADDON/deps/include"
  ln -s "$TF/libtensorflow_cc.so.2" "$ADDON/deps/lib/libtensorflow_cc.so.2"
  ln -s libtensorflow_cc.so.2 "$ADDON/deps/lib/libtensorflow.so"
  ln -s "$TF/libtensorflow_framework.so.2" "$ADDON/deps/lib/libtensorflow_framework.so.2"
  ln -s libtensorflow_framework.so.2 "$ADDON/deps/lib/libtensorflow_framework.so"

  # 4. Compile with npm's node-gyp against the local Node headers (node-gyp would otherwise download them).
  NODE_GYP="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
  TARGET=$(cd "$ADDON" && node -p 'require("@mapbox/node-pre-gyp").find(require.resolve("./package.json"))')
  NAPI=$(basename "$(dirname "$TARGET")" | sed 's/^napi-v//')
  (cd "$ADDON" && node "$NODE_GYP" rebuild --nodedir="$NODE_PREFIX" --module_name=tfjs_binding \
    --module_path="lib/napi-v$NAPI" --napi_build_version="$NAPI" >&2)
  mkdir -p "$(dirname "$TARGET")" && cp "$ADDON/build/Release/tfjs_binding.node" "$TARGET"

  # 5. Proof: the 'tensorflow' backend comes up and computes.
  works || { say "tfjs-node built but its tensorflow backend does not compute (node -e 'require(\"@tensorflow/tfjs-node\")' shows why)"; exit 1; }
  say "the tensorflow backend works"
}

# Proof that the compiled kernels load into tfjs-node's process and TensorFlow takes their ops.
kernels_load() {
  node -e '
    require("@tensorflow/tfjs-node");
    const addon = { exports: {} };
    process.dlopen(addon, process.argv[1]);
    if (!addon.exports.registered) process.exit(1);
  ' "$1" 2>/dev/null
}

# 6. tfjs-trust's compiled kernels (src/backends/compiled_kernels.ts loads them), beside the addon
# so that they link the same TensorFlow. They need the C kernel API and Eigen headers, which the
# wheel has and Google's libtensorflow download does not; they are compiled for this CPU
# (-march=native). Where they cannot be built, one line says why: tfjs-node works without them.
build_kernels() {
  local include="$ADDON/deps/include" lib="$ADDON/deps/lib" target
  for needed in tensorflow/c/kernels.h tensorflow/c/ops.h Eigen/Core; do
    if [ ! -e "$include/$needed" ]; then
      say "compiled kernels skipped: $include has no $needed (tfjs-node was not built from the wheel; --force builds it so)"
      return 0
    fi
  done
  target="$(dirname "$(cd "$ADDON" && node -p 'require("@mapbox/node-pre-gyp").find(require.resolve("./package.json"))')")/tfjs_trust_kernels.node"
  if [ "$FORCE" = 0 ] && [ "$target" -nt "$KERNELS_SOURCE" ] && kernels_load "$target"; then
    say "compiled kernels up to date: $target"
    return 0
  fi
  "${CXX:-g++}" -std=c++17 -O3 -march=native -ffp-contract=off -fPIC -shared -pthread \
    -I"$include" -I"$NODE_PREFIX/include/node" "$KERNELS_SOURCE" \
    -L"$lib" -l:libtensorflow_framework.so.2 -Wl,-rpath,'$ORIGIN/../../deps/lib' -o "$target"
  kernels_load "$target" || { say "compiled kernels built but TensorFlow refused them: $target"; exit 1; }
  say "compiled kernels: $target"
}

if [ "$FORCE" = 0 ] && works; then
  say "tfjs-node already works in $PROJECT (the tensorflow backend computes); kept (--force rebuilds)"
else
  build_addon
fi
build_kernels
