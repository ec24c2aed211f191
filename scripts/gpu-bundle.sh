#!/usr/bin/env bash
# Builds, on a development machine (Debian 12), a relocatable bundle from
# which scripts/gpu-check.sh proves a GPU machine that has a GPU driver but no
# network and no development packages.
#
#   bash scripts/gpu-bundle.sh [OUTDIR]        (default: dist/gpu-bundle)
#
# The bundle is laid out like the repository, so the same scripts run in both:
#   payload.tar.xz      unpacked by gpu-check.sh into
#     build/tests/test_*  build/bench/anygrad-bench  build/examples/fashion_mnist
#     build/tools/anygrad-info   (RPATH $ORIGIN/../../lib)
#     lib/              libanygrad and every non-system shared library they
#                       need (the Vulkan and OpenCL loaders, CLBlast, OpenBLAS,
#                       cJSON, Check's subunit)
#   tests/golden/       golden test data (found through AG_GOLDEN_DIR)
#   data/fashion-mnist/ the demo's data set
#   bench/ scripts/gpu-check.sh  the benchmark scripts and the check
# The bundle must stay under 64 MiB; the script fails when it does not.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist/gpu-bundle}
jobs=$(nproc 2>/dev/null || echo 2)
data=/usr/share/datasets/fashion-mnist
limit=$((64 * 1024 * 1024))

[ -f "$data/train-images-idx3-ubyte.gz" ] || bash scripts/install-deps.sh --demo

echo "== build (relocatable: RPATH \$ORIGIN/../../lib)"
# An old-style DT_RPATH (not RUNPATH) also applies to the libraries' own
# dependencies (OpenBLAS's libgfortran), so the whole tree loads from lib/.
# Without MPI: a GPU machine proved from the bundle has no MPI runtime (the
# data-parallel suites run under mpirun in the test command instead).
cmake -S . -B build-bundle -DCMAKE_BUILD_TYPE=Release -DAG_WERROR=ON -DAG_MPI=OFF \
  -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON '-DCMAKE_INSTALL_RPATH=$ORIGIN/../../lib' \
  -DCMAKE_EXE_LINKER_FLAGS=-Wl,--disable-new-dtags -DCMAKE_SHARED_LINKER_FLAGS=-Wl,--disable-new-dtags >/dev/null
cmake --build build-bundle -j"$jobs" >/dev/null

echo "== assemble $out"
rm -rf "$out"
mkdir -p "$out"/build/{tests,bench,examples,tools} "$out"/lib "$out"/tests "$out"/data "$out"/scripts \
  "$out"/bench/results
bins=()
for t in build-bundle/tests/test_*; do
  [ -x "$t" ] && [ -f "$t" ] && bins+=("$t") && cp "$t" "$out/build/tests/"
done
for b in bench/anygrad-bench examples/fashion_mnist examples/mlp_synthetic tools/anygrad-info; do
  cp "build-bundle/$b" "$out/build/$b"
  bins+=("build-bundle/$b")
done

# Every shared library the binaries load, except the C/C++ runtime every
# Linux machine has (and which a GPU driver must share with the program).
system_lib='^(libc|libm|libdl|libpthread|librt|libresolv|libutil|ld-linux-x86-64|libgcc_s|libstdc\+\+)\.so'
LD_LIBRARY_PATH="$PWD/build-bundle" ldd "${bins[@]}" 2>/dev/null |
  awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u | while read -r lib; do
    name=$(basename "$lib")
    [[ "$name" =~ $system_lib ]] && continue
    cp -L "$lib" "$out/lib/$name"
  done
[ -f "$out/lib/libanygrad.so.0" ] || { echo "gpu-bundle: libanygrad.so.0 not collected" >&2; exit 1; }
strip --strip-unneeded "$out"/build/*/* "$out"/lib/*.so*
# One xz stream: the test binaries share most of their bytes (each links the
# static library), which xz's large window finds: 31 MiB become about 7.
tar -C "$out" -cf - lib build | xz -9 -T2 >"$out/payload.tar.xz"
rm -rf "${out:?}/lib" "${out:?}/build"

cp -r tests/golden "$out/tests/golden"
cp -r "$data" "$out/data/fashion-mnist"
cp bench/*.py bench/run.sh "$out/bench/"
cp scripts/gpu-check.sh "$out/scripts/"
git describe --always --dirty >"$out/VERSION" 2>/dev/null || echo unknown >"$out/VERSION"

size=$(du -sb "$out" | cut -f1)
echo "bundle: $out, $((size / 1024 / 1024)) MiB ($(cat "$out/VERSION"))"
if [ "$size" -gt "$limit" ]; then
  echo "gpu-bundle: the bundle is larger than 64 MiB" >&2
  exit 1
fi
