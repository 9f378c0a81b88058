#!/usr/bin/env bash
# The prepared benchmark for a machine with a real GPU (x86-64 Linux, NVIDIA, Node 20+),
# in under 6 minutes: it sets up Vulkan for Dawn (the `webgpu` package), then
#   1. checks the GPU's answers against WASM on a few tokens (bench/gpu.ts --only check:
#      a kernel that writes zeros fails here and nothing else runs),
#   2. runs the WebGPU kernel tests and the op-by-op precision test on the real adapter,
#   3. bench/gpu.ts: PaliGemma-3B-224 at its real size at f16, q8 and q4 (and q4 at 448):
#      SigLIP and prefill ms; per decode token ms, tokens/s, dispatches, bytes read and the
#      achieved fraction of the GPU's memory bandwidth (bench/roofline.ts),
#   4. bench/model.ts on WebGPU (its own figures and the counted calls per token),
#   5. bench/full-size.ts (npm run bench:full-size) where the repo has it, in the time left.
#
#   bench/gpu.sh [--bandwidth GBps]   on the GPU machine (--bandwidth: a GPU not in bench/roofline.ts)
#   bench/gpu.sh --software           here, on SwiftShader at small sizes: tests this script
#   bench/gpu.sh --prepare            here, before: packs what a machine without network needs
#                                     into .gpu/ (git-ignored; carry it: carry [".gpu"])
#
# What a bare GPU machine may lack, and where it comes from:
# - node_modules (no npm there): --prepare packs the package's dependencies, webgpu (Linux x64
#   only), vitest and vite with theirs into .gpu/node_modules.tar.gz; this script unpacks it when `webgpu`
#   does not resolve, and points node_modules at it.
# - the WASM builds (git-ignored): --prepare copies src/wasm/*.wasm into .gpu/wasm.
# - the Vulkan loader: if `ldconfig -p` has no libvulkan.so.1, the one --prepare copied from
#   this Debian machine (.gpu/lib) goes on LD_LIBRARY_PATH.
# - the NVIDIA ICD: the first of the usual nvidia_icd.json files, else one written here naming
#   libGLX_nvidia.so.0 (the driver's Vulkan entry; a container gets it with
#   NVIDIA_DRIVER_CAPABILITIES including "graphics"). VK_ICD_FILENAMES wins if already set.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
GPU_DIR="$ROOT/.gpu"
START=$SECONDS
MODE=gpu
PASS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --software) MODE=software; PASS+=(--software) ;;
    --prepare) MODE=prepare ;;
    --bandwidth) PASS+=(--bandwidth "${2:?--bandwidth takes GB/s}"); shift ;;
    *) echo "usage: bench/gpu.sh [--software | --prepare] [--bandwidth GBps]" >&2; exit 2 ;;
  esac
  shift
done

# Seconds for the whole run: a margin under 6 minutes on a GPU; --software is a test of this
# script on a CPU adapter, where the kernel tests alone take minutes.
if [ "$MODE" = software ]; then BUDGET=${GPU_SH_BUDGET:-1800}; else BUDGET=${GPU_SH_BUDGET:-345}; fi
# Seconds left of the budget, at least 1 (timeout 0 would mean none).
left() { local n=$((BUDGET - (SECONDS - START))); echo $((n > 0 ? n : 1)); }
FAILED=()
step() { echo; echo "== [$((SECONDS - START)) s] $*"; }

if [ "$MODE" = prepare ]; then
  mkdir -p "$GPU_DIR/lib" "$GPU_DIR/wasm"
  [ -f src/wasm/cpu.wasm ] || npm run build:wasm
  cp src/wasm/*.wasm "$GPU_DIR/wasm/"
  loader=$(ldconfig -p | awk '/libvulkan\.so\.1 .*x86-64/ { print $NF; exit }')
  [ -n "$loader" ] || { echo "no libvulkan.so.1 here to copy (apt-get install libvulkan1)" >&2; exit 1; }
  cp -L "$loader" "$GPU_DIR/lib/libvulkan.so.1"
  # The package's own dependencies, vitest and vite, with everything they depend on
  # (optional native parts included); webgpu is an optional dependency.
  node -e '
    const { readFileSync, existsSync } = require("node:fs");
    const own = require("./package.json");
    const seen = new Set(), todo = ["vitest", "vite", ...Object.keys({ ...own.dependencies, ...own.optionalDependencies })];
    while (todo.length) {
      const name = todo.pop();
      if (seen.has(name) || !existsSync(`node_modules/${name}/package.json`)) continue;
      seen.add(name);
      const pkg = JSON.parse(readFileSync(`node_modules/${name}/package.json`, "utf8"));
      todo.push(...Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies }));
    }
    console.log([...seen].join("\n"));
  ' > "$GPU_DIR/packages.txt"
  # Only Linux x64's dawn.node (the package ships five platforms, 132 MB).
  tar -C node_modules/ -czf "$GPU_DIR/node_modules.tar.gz" \
    --exclude='webgpu/dist/darwin-*' --exclude='webgpu/dist/win32-*' --exclude='webgpu/dist/linux-arm64' \
    -T "$GPU_DIR/packages.txt"
  du -sh "$GPU_DIR"/* | sed 's/^/  /'
  echo "prepared $GPU_DIR ($(du -sh "$GPU_DIR" | cut -f1)): run bench/gpu.sh on the GPU machine with carry [\".gpu\"]"
  exit 0
fi

step "environment"
if ! node -e 'import("webgpu").then(() => process.exit(0), () => process.exit(1))' 2>/dev/null; then
  [ -f "$GPU_DIR/node_modules.tar.gz" ] || { echo "the webgpu package does not resolve and there is no .gpu/node_modules.tar.gz: npm ci, or bench/gpu.sh --prepare where npm works and carry .gpu" >&2; exit 1; }
  rm -rf "$GPU_DIR/node_modules" && mkdir -p "$GPU_DIR/node_modules"
  tar -C "$GPU_DIR/node_modules" -xzf "$GPU_DIR/node_modules.tar.gz"
  mkdir -p "$GPU_DIR/node_modules/.bin" && ln -sf ../vitest/vitest.mjs "$GPU_DIR/node_modules/.bin/vitest"
  if [ -L node_modules ] || [ ! -e node_modules ]; then rm -f node_modules && ln -s "$GPU_DIR/node_modules" node_modules; fi
  echo "node_modules: unpacked from .gpu/node_modules.tar.gz"
fi
for f in "$GPU_DIR"/wasm/*.wasm; do [ -e "$f" ] && [ ! -e "src/wasm/$(basename "$f")" ] && cp "$f" src/wasm/; done
[ -f src/wasm/cpu.wasm ] || npm run build:wasm

if [ "$MODE" = software ]; then
  export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-/usr/lib/chromium/vk_swiftshader_icd.json}
else
  if ! ldconfig -p | grep -q 'libvulkan\.so\.1 '; then
    [ -f "$GPU_DIR/lib/libvulkan.so.1" ] || { echo "no Vulkan loader (libvulkan.so.1) here and none in .gpu/lib: run bench/gpu.sh --prepare where one is installed" >&2; exit 1; }
    export LD_LIBRARY_PATH="$GPU_DIR/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "Vulkan loader: .gpu/lib/libvulkan.so.1"
  fi
  if [ -z "${VK_ICD_FILENAMES:-}" ]; then
    for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.x86_64.json /etc/vulkan/icd.d/nvidia_icd.x86_64.json; do
      if [ -f "$icd" ]; then export VK_ICD_FILENAMES=$icd; break; fi
    done
  fi
  if [ -z "${VK_ICD_FILENAMES:-}" ]; then
    glx=$(ldconfig -p | awk '/libGLX_nvidia\.so\.0 .*x86-64/ { print $NF; exit }')
    [ -n "$glx" ] || { echo "no NVIDIA Vulkan driver: no nvidia_icd.json and no libGLX_nvidia.so.0 (in a container, set NVIDIA_DRIVER_CAPABILITIES=all or add graphics)" >&2; exit 1; }
    mkdir -p "$GPU_DIR"
    printf '{ "file_format_version": "1.0.0", "ICD": { "library_path": "%s", "api_version": "1.3.0" } }\n' "$glx" > "$GPU_DIR/nvidia_icd.json"
    export VK_ICD_FILENAMES="$GPU_DIR/nvidia_icd.json"
  fi
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
fi
export VK_DRIVER_FILES=$VK_ICD_FILENAMES # the newer loaders' name for it
echo "VK_ICD_FILENAMES=$VK_ICD_FILENAMES"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp} # else Dawn logs an error line per instance

step "1. the GPU's answers against WASM"
timeout "$(left)" node bench/run.mjs bench/gpu.ts --only check "${PASS[@]}"

step "2. kernel tests on this adapter, and the op-by-op precision test (it names an op a driver's looser math moves)"
# Under --software only the WebGPU-specific file: the suite runs them all on SwiftShader anyway.
if [ "$MODE" = software ]; then TESTS=(tests/kernels/webgpu.test.ts tests/bench/roofline.test.ts); else
  TESTS=(tests/kernels/webgpu.test.ts tests/kernels/quantized.test.ts tests/kernels/sliding-window.test.ts tests/kernels/ops.test.ts tests/model/precision.test.ts); fi
timeout "$(left)" npx vitest run "${TESTS[@]}" ||
  FAILED+=("kernel tests (exit $?)")

step "3. bench/gpu.ts: decode roofline at f16, q8, q4"
timeout "$(left)" node bench/run.mjs bench/gpu.ts --only bench "${PASS[@]}" || FAILED+=("bench/gpu.ts (exit $?)")

step "4. bench/model.ts on WebGPU"
if [ "$MODE" = software ]; then MODEL_ARGS=(--only tiny); else MODEL_ARGS=(--depth 2 --only tiny,pg1,pg2,calls); fi
timeout "$(left)" node bench/run.mjs bench/model.ts --backend webgpu "${MODEL_ARGS[@]}" "${PASS[@]}" || FAILED+=("bench/model.ts (exit $?; 124: the time budget)")

step "5. bench/full-size.ts"
if [ "$MODE" = software ]; then
  echo "skipped under --software (3B weights)"
elif node -e 'process.exit(require("./package.json").scripts["bench:full-size"] ? 0 : 1)'; then
  timeout "$(left)" npm run -s bench:full-size -- --backend webgpu "${PASS[@]}" || FAILED+=("bench:full-size (exit $?; 124: the time budget)")
else
  echo "skipped: no bench:full-size script in package.json"
fi
echo
if [ ${#FAILED[@]} -gt 0 ]; then
  echo "done in $((SECONDS - START)) s; FAILED: ${FAILED[*]}"
  exit 1
fi
echo "done in $((SECONDS - START)) s"
