#!/usr/bin/env bash
# Installs the dependencies, builds anygrad and runs the whole test suite on all
# three backends: CPU, Vulkan (Mesa lavapipe when no GPU) and OpenCL (PoCL when
# no GPU). Then repeats the suite in an AddressSanitizer+UBSan build, and the
# Vulkan tests under the Khronos validation layer, every suite under valgrind
# on the CPU backend, then fuzzes the safetensors, checkpoint and IDX readers
# (tests/fuzz, libFuzzer under ASan+UBSan, when clang is installed).
# Usage (from the repository root, as root on Debian 12): bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

bash scripts/install-deps.sh

export AG_TEST_BACKENDS="${AG_TEST_BACKENDS:-cpu,vulkan,opencl}"
# Keep kernel caches inside the build tree so runs do not depend on $HOME.
export XDG_CACHE_HOME="$PWD/build/cache"

echo "== build (warnings are errors)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DAG_WERROR=ON >/dev/null
cmake --build build -j"$jobs"

echo "== test suite on: $AG_TEST_BACKENDS"
# (includes test_dist_np2 / test_dist_np3: the data-parallel suite under
# mpirun --oversubscribe --allow-run-as-root -np 2 and -np 3, and the
# test_dist_fail_* jobs in which a rank dies, stalls or errors)
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== install, then build a program against it with CMake and with pkg-config"
rm -rf build/install-test build/consumer
cmake --install build --prefix "$PWD/build/install-test" >/dev/null
cmake -S tests/install -B build/consumer -DCMAKE_PREFIX_PATH="$PWD/build/install-test" >/dev/null
cmake --build build/consumer -j"$jobs" >/dev/null
LD_LIBRARY_PATH="$PWD/build/install-test/lib" ./build/consumer/consumer
./build/consumer/consumer_static
cc tests/install/main.c -o build/consumer/with_pkg_config \
  $(PKG_CONFIG_PATH="$PWD/build/install-test/lib/pkgconfig" pkg-config --cflags --libs anygrad)
LD_LIBRARY_PATH="$PWD/build/install-test/lib" ./build/consumer/with_pkg_config

echo "== Vulkan tests under the Khronos validation layer"
# Any validation message fails the test that caused it (the harness checks the
# backend's message count when it closes each device).
AG_TEST_BACKENDS=vulkan AG_VULKAN_VALIDATION=1 \
  ctest --test-dir build --output-on-failure -j"$jobs"

echo "== valgrind (memcheck, leaks) on the CPU backend"
for t in build/tests/test_*; do
  [ -x "$t" ] || continue
  # test_device lists and opens every backend by design: the Vulkan and OpenCL
  # drivers' own allocations are not the CPU backend's (the sanitizer run
  # below covers it, with the runtimes' caches suppressed).
  [ "$(basename "$t")" = test_device ] && continue
  # test_dist needs mpirun: it runs under valgrind below, one valgrind per rank.
  [ "$(basename "$t")" = test_dist ] && continue
  echo "-- $(basename "$t")"
  AG_TEST_BACKENDS=cpu AG_NUM_THREADS=2 valgrind -q --error-exitcode=1 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect "$t" >/dev/null
done

if [ -x build/tests/test_dist ]; then
  echo "-- test_dist (2 ranks under mpirun; the MPI runtime's own allocations suppressed)"
  AG_TEST_BACKENDS=cpu AG_NUM_THREADS=1 CK_FORK=no AG_DIST_TIMEOUT=300 \
    mpirun --oversubscribe --allow-run-as-root -np 2 valgrind -q --error-exitcode=1 \
    --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --suppressions=/usr/share/openmpi/openmpi-valgrind.supp \
    --suppressions="$PWD/tests/dist/mpi.supp" build/tests/test_dist >/dev/null
fi

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DAG_SANITIZE=ON -DAG_WERROR=ON \
  -DAG_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-asan -j"$jobs"
export XDG_CACHE_HOME="$PWD/build-asan/cache"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
# Leak checking on every backend. The Vulkan backend keeps one instance for the
# process so the driver's permanent caches are not reported as leaks of an
# unloaded module; tests/lsan.supp names the runtimes' own process-lifetime caches.
# intercept_tls_get_addr=0: the sanitizer runtime of GCC 12 (Debian 12) takes a
# dynamic TLS block that happens to start 16 bytes past a page boundary for a
# pre-2.25 glibc header and reads two garbage words as its bounds; the leak
# checker's tracer then dies at exit ("Tracer caught signal 11") after a test
# has passed. The blocks belong to the dlopened GPU runtimes, whose allocations
# tests/lsan.supp already names, so nothing anygrad owns goes unscanned.
export ASAN_OPTIONS=detect_leaks=1:intercept_tls_get_addr=0
ctest --test-dir build-asan --output-on-failure -j"$jobs"
echo "== fuzzing the file readers (libFuzzer, ASan+UBSan), ${AG_FUZZ_SECONDS:-30} s each"
# Seeded with files the library itself writes (fuzz_seeds); any crash, sanitizer
# report, leak or timeout makes the target exit non-zero and fails the script.
if command -v clang >/dev/null; then
  CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAG_FUZZ=ON -DAG_WERROR=ON \
    -DAG_VULKAN=OFF -DAG_OPENCL=OFF -DAG_MPI=OFF -DAG_BUILD_TESTS=OFF -DAG_BUILD_EXAMPLES=OFF >/dev/null
  cmake --build build-fuzz -j"$jobs"
  rm -rf build-fuzz/corpus
  ./build-fuzz/tests/fuzz/fuzz_seeds build-fuzz/corpus
  for t in safetensors checkpoint idx; do
    echo "-- fuzz_$t"
    ./build-fuzz/tests/fuzz/fuzz_$t -max_total_time="${AG_FUZZ_SECONDS:-30}" \
      -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 build-fuzz/corpus/$t 2>&1 | tail -n 4
  done
else
  echo "clang not found: fuzz targets skipped"
fi
echo "== all tests passed"
