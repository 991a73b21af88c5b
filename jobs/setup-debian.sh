#!/bin/bash
# Installs everything shardml needs to build, test and run on Debian 12, from
# Debian's own packages. Non-interactive; safe to run again (apt skips what is
# already installed). Uses sudo when not run as root.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

PACKAGES=(
  build-essential cmake pkg-config     # compiler, CMake, CTest
  libopenmpi-dev openmpi-bin            # MPI
  libhdf5-openmpi-dev hdf5-tools        # parallel HDF5; h5dump (users, checkpoint tests)
  libopenblas-openmp-dev                # CBLAS, the OpenMP build: one thread pool with shardml's
  zlib1g-dev libpng-dev                 # .gz datasets; PNG figures
  dataset-fashion-mnist                 # the default dataset, /usr/share/datasets/fashion-mnist
  slurm-wlm munge                       # the test suite's single-node SLURM cluster (tests/slurm)
  procps python3                        # pgrep/pkill, and python3 for checks in the tests
  python3-sklearn python3-h5py          # tests: the eval report against classification_report; files h5py writes
  python3-torch python3-onnx           # the Python package's PyTorch and ONNX forms (src/python; tests/python)
  qemu-user                             # the tests run shardml on an emulated CPU without AVX
  clang libclang-rt-14-dev libomp-14-dev # libFuzzer harnesses (tests/fuzz; .ci/run fuzzes each for 60 s)
  libmpich-dev mpich libhdf5-mpich-dev  # the suite against MPICH too (cmake --preset mpich; Open MPI stays the default)
  libblis-openmp-dev                    # ... and against BLIS (cmake --preset blis; OpenBLAS stays the default)
  librsvg2-bin                          # rsvg-convert: the tests render every SVG figure
  iproute2                              # ip and tc: the emulated-network test (tests/cli/network.sh)
  clang-format                          # the formatter check of .ci/run (tests/format.sh)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The pthread OpenBLAS, if also installed, must not be the libblas alternative
# shardml's dependencies see: its threads would fight shardml's OpenMP threads.
if [ -e /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3 ]; then
  $SUDO update-alternatives --set libblas.so.3-x86_64-linux-gnu \
    /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3 >/dev/null 2>&1 || true
fi
echo "setup-debian: all shardml dependencies are installed"
