#!/usr/bin/env bash
# ensure-python313t.sh - make a free-threaded CPython 3.13 ("3.13t", built
# with --disable-gil) available in a per-user cache directory.
#
# Usage:  PY=$(bash scripts/ensure-python313t.sh | tail -1)
#
# The LAST line of stdout is the absolute path of the interpreter; every
# progress message goes to stderr so callers can capture stdout safely.
#
# Why this exists: free-threaded 3.13 is not packaged for Debian 12
# (bookworm), so we fetch Debian trixie's python3.13 *source* package through
# an isolated apt configuration (the system's apt state is left untouched),
# build it with --disable-gil into the cache prefix, and verify it.
#
# Idempotent: if the cached interpreter already exists and is free-threaded,
# the script prints its path and exits immediately (no apt, no network).
#
# The build's own output (apt, dpkg-source, configure, make: thousands of
# lines) goes to $CACHE_ROOT/python3.13t-build.log; stderr gets one line per
# step, and on failure the log's last lines and its path.
#
# Environment:
#   HPYX_CACHE_DIR   cache root (default: $HOME/.cache/hpyx)
set -euo pipefail

CACHE_ROOT="${HPYX_CACHE_DIR:-$HOME/.cache/hpyx}"
PREFIX="$CACHE_ROOT/python3.13t"
PYTHON="$PREFIX/bin/python3.13t"
# Everything the build needs that is not the install itself lives here, so
# that a failed build never leaves a half-populated prefix looking "done".
WORK="$CACHE_ROOT/python3.13t-build"
LOCK="$CACHE_ROOT/python3.13t.lock"
BUILD_LOG="$CACHE_ROOT/python3.13t-build.log"

log() { printf '[ensure-python313t] %s\n' "$*" >&2; }
die() {
    printf '[ensure-python313t] ERROR: %s\n' "$*" >&2
    exit 1
}

# Runs a step with its output appended to $BUILD_LOG. On failure: the log's
# last lines, then `die` with the step's name and the log's path.
quietly() {
    local what=$1
    shift
    printf '\n=== %s: %s\n' "$what" "$*" >>"$BUILD_LOG"
    if ! "$@" >>"$BUILD_LOG" 2>&1; then
        tail -n 25 "$BUILD_LOG" | sed 's/^/    /' >&2
        die "$what failed (full log: $BUILD_LOG)"
    fi
}

# True if the cached interpreter exists, runs, and really has the GIL off.
interpreter_ok() {
    [[ -x "$PYTHON" ]] &&
        "$PYTHON" -c 'import sys; assert not sys._is_gil_enabled()' >/dev/null 2>&1
}

# Fast path (no lock, no apt, no network): already built and working.
if interpreter_ok; then
    printf '%s\n' "$PYTHON"
    exit 0
fi

# Serialise concurrent runs: two builds into the same prefix would clobber
# each other. The lock is held until the script exits (fd 9 stays open).
mkdir -p "$CACHE_ROOT"
exec 9>"$LOCK"
if ! flock -n 9; then
    log "another run holds $LOCK; waiting for it to finish..."
    flock 9
fi

# Re-check under the lock: the run we waited for may have built it already.
if interpreter_ok; then
    printf '%s\n' "$PYTHON"
    exit 0
fi

[[ "$(id -u)" -eq 0 ]] || die "must run as root (needs apt-get install)"
command -v apt-get >/dev/null || die "apt-get not found (Debian-only script)"

export DEBIAN_FRONTEND=noninteractive
: >"$BUILD_LOG"
log "building it once (about 10 minutes on 2 cores); build log: $BUILD_LOG"

# ---------------------------------------------------------------------------
# 1. Build dependencies from the normal (bookworm) apt. Without the -dev
#    packages CPython silently skips modules (ssl, ctypes, sqlite3, ...), so
#    we install them up front. Only missing packages are installed, so repeat
#    runs do not touch apt at all when everything is present.
# ---------------------------------------------------------------------------
BUILD_DEPS=(
    build-essential pkg-config
    libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev libsqlite3-dev
    libreadline-dev libncurses-dev libgdbm-dev uuid-dev
    xz-utils          # unpack the .orig.tar.xz / .debian.tar.xz
    dpkg-dev          # dpkg-source, to unpack the Debian source package
    ca-certificates   # so the built ssl module (and pip) can verify PyPI
    debian-archive-keyring # verifies trixie's InRelease signature
)

is_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}

missing=()
for pkg in "${BUILD_DEPS[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    log "installing missing build dependencies: ${missing[*]}"
    quietly "apt-get update" apt-get update -qq
    quietly "installing build dependencies" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# ---------------------------------------------------------------------------
# 2. Find the Debian mirror the system already uses. We must not name any
#    other host (only the configured mirror is reachable). Both one-line
#    (*.list) and deb822 (*.sources) formats are read; security/updates
#    archives are skipped because trixie's main suite lives in the main
#    archive, i.e. a URI ending in "/debian".
# ---------------------------------------------------------------------------
find_mirror() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources; do
        [[ -r "$f" ]] || continue
        case "$f" in
        *.sources)
            # deb822: "URIs: http://host/debian [more...]"
            sed -n 's/^[[:space:]]*URIs:[[:space:]]*//Ip' "$f" | tr -s '[:blank:]' '\n'
            ;;
        *)
            # one-line: "deb [opts] http://host/debian suite comp..."
            sed -n 's/^[[:space:]]*deb\(-src\)\?[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\3/p' "$f"
            ;;
        esac
    done | sed 's:/*$::' | grep -E '^https?://[^/]+/(.*/)?debian$' | head -n 1 || true
}

MIRROR="$(find_mirror)"
[[ -n "$MIRROR" ]] || die "could not find a Debian mirror (URI ending in /debian) in /etc/apt sources"

# ---------------------------------------------------------------------------
# 3. Isolated apt configuration pointing only at trixie's deb-src. Our own
#    source list, lists dir and cache dir (under $WORK) keep the system's
#    /etc/apt and /var/lib/apt/lists untouched, so bookworm never "sees"
#    trixie packages.
# ---------------------------------------------------------------------------
APT_DIR="$WORK/apt"
mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s trixie main\n' \
    "$MIRROR" >"$APT_DIR/sources.list"

APT_OPTS=(
    -o "Dir::Etc::SourceList=$APT_DIR/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$APT_DIR/lists"
    -o "Dir::Cache=$APT_DIR/cache"
    # Our dirs live under $HOME (often unreadable by the _apt sandbox user);
    # download as root directly instead of warning about the fallback.
    -o "APT::Sandbox::User=root"
)

log "fetching trixie's source index from $MIRROR (isolated apt state in $APT_DIR)"
quietly "fetching the trixie source index" apt-get "${APT_OPTS[@]}" update -qq

# ---------------------------------------------------------------------------
# 4. Download and unpack the python3.13 source package. apt-get source checks
#    the files against the signed Sources index. We unpack with
#    --skip-patches: Debian's patches adapt CPython to the distro layout
#    (e.g. they disable ensurepip and change install schemes), which is
#    wrong for a self-contained prefix; the upstream tarball is what we want.
#    The source tree is recreated from scratch on each build attempt.
#    --no-copy stops dpkg-source duplicating the ~22 MB orig tarball next to
#    the tree. dpkg-source may warn that it cannot verify the .dsc's inline
#    OpenPGP signature (no Debian keyring in gpg's keyring); that is fine
#    because apt-get source already checked every file's hash against the
#    InRelease-signed Sources index.
# ---------------------------------------------------------------------------
SRC_DL="$WORK/download"
mkdir -p "$SRC_DL"
log "downloading and unpacking the python3.13 source package (into $WORK)"
quietly "downloading the python3.13 source package" \
    bash -c 'cd "$1" && shift && exec "$@"' _ "$SRC_DL" \
    apt-get "${APT_OPTS[@]}" source --download-only -qq python3.13

# Pick the newest .dsc in case older downloads are still around.
dsc="$(find "$SRC_DL" -maxdepth 1 -name 'python3.13_*.dsc' -print | sort -V | tail -n 1)"
[[ -n "$dsc" ]] || die "no python3.13 .dsc found in $SRC_DL after apt-get source"

SRC_TREE="$WORK/src"
rm -rf "$SRC_TREE"
quietly "unpacking" dpkg-source --skip-patches --no-copy -x "$dsc" "$SRC_TREE"

# ---------------------------------------------------------------------------
# 5. Configure and build. --disable-gil gives the free-threaded ("t") build;
#    no --enable-optimizations (PGO) to keep the build short. A failed build
#    removes the partial prefix so the fast path can never pick it up.
# ---------------------------------------------------------------------------
JOBS=2
log "configuring (prefix=$PREFIX, --disable-gil)"
cd "$SRC_TREE"
quietly "configure" ./configure --disable-gil --prefix="$PREFIX" --with-ensurepip=install

log "building and installing with make -j$JOBS (the long step)"
rm -rf "$PREFIX"
if ! make -j"$JOBS" >>"$BUILD_LOG" 2>&1 || ! make install >>"$BUILD_LOG" 2>&1; then
    rm -rf "$PREFIX"
    tail -n 25 "$BUILD_LOG" | sed 's/^/    /' >&2
    die "build/install failed (full log: $BUILD_LOG)"
fi
cd /

# ---------------------------------------------------------------------------
# 6. Verify. A build missing a -dev package still "succeeds" but lacks the
#    module, so import the ones we rely on explicitly, check the GIL really
#    is disabled, and make sure pip works (bootstrapping it if needed).
# ---------------------------------------------------------------------------
fail_verify() {
    rm -rf "$PREFIX"
    die "verification failed: $* (full log: $BUILD_LOG)"
}

[[ -x "$PYTHON" ]] || fail_verify "$PYTHON was not installed"
"$PYTHON" -c 'import ssl, ctypes, zlib, sqlite3, lzma, bz2' >>"$BUILD_LOG" 2>&1 ||
    fail_verify "a required stdlib module (ssl/ctypes/zlib/sqlite3/lzma/bz2) is missing"
"$PYTHON" -c 'import sys; assert not sys._is_gil_enabled(), "GIL is enabled"' >>"$BUILD_LOG" 2>&1 ||
    fail_verify "the interpreter is not free-threaded"
if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    "$PYTHON" -m ensurepip >>"$BUILD_LOG" 2>&1 || fail_verify "ensurepip failed"
fi
"$PYTHON" -m pip --version >>"$BUILD_LOG" 2>&1 || fail_verify "pip does not work"

# ---------------------------------------------------------------------------
# 7. Clean up the unpacked source/build tree (hundreds of MB). The downloaded
#    tarballs and apt lists are small and kept for reference.
# ---------------------------------------------------------------------------
rm -rf "$SRC_TREE"

log "ready: $("$PYTHON" -VV)"
printf '%s\n' "$PYTHON"
