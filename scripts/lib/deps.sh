# Debian packages Sluice needs to build, test and run its demo. Source this file, then call
# install_deps. Idempotent and quiet when everything is present (one dpkg-query per package).

# What building the two binaries takes (compose/Dockerfile's build stage installs these).
SLUICE_BUILD_PACKAGES=(
  cmake g++ pkg-config ninja-build python3
  libboost-dev libboost-system-dev libboost-program-options-dev libboost-regex-dev
  libgrpc++-dev protobuf-compiler protobuf-compiler-grpc libprotobuf-dev
  libssl-dev libcurl4-openssl-dev zlib1g-dev
  libspdlog-dev libfmt-dev libpqxx-dev libpq-dev doctest-dev libyaml-cpp-dev
  nlohmann-json3-dev libsimdjson-dev libnghttp2-dev libyajl-dev libzstd-dev
)
# Building, testing and the demo; docker-compose validates compose/compose.yaml where the
# docker compose plugin is missing (no Docker engine is needed for that).
SLUICE_DEB_PACKAGES=(
  "${SLUICE_BUILD_PACKAGES[@]}"
  postgresql postgresql-client
  jq curl bsdutils python3-pytest python3-kubernetes python3-psycopg2 chromium
  clang libclang-rt-14-dev
  ccache bubblewrap docker-compose python3-h2 nghttp2-client
)

install_deps() {
  local missing=() p
  for p in "${SLUICE_DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
      command -v sudo >/dev/null || { echo "install_deps: run as root, or install: ${missing[*]}" >&2; return 1; }
      sudo=(sudo)
    fi
    echo "Installing Debian packages: ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if ! command -v kubectl >/dev/null; then
    echo "install_deps: kubectl is not on the PATH; the tests and the demo drive the real kubectl (v1.32)" >&2
    return 1
  fi
}

# Configures (once) and builds the given targets, or everything, into $1.
build_tree() {
  local build_dir=$1; shift
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  if [ ! -f "$build_dir/build.ninja" ]; then
    # ccache makes a CI rebuild of an unchanged tree take seconds instead of minutes.
    local launcher=()
    command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
    cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${SLUICE_BUILD_TYPE:-RelWithDebInfo}" "${launcher[@]}" >/dev/null
  fi
  # Paths relative to the checkout, so a clone elsewhere hits the same cache entries.
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
  if [ $# -gt 0 ]; then cmake --build "$build_dir" --target "$@"; else cmake --build "$build_dir"; fi
}
