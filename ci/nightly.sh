# Sourced by the nightly-only tiers (miri, tsan, asan, asan-python): the
# toolchain to use ($HPYX_NIGHTLY, default nightly) and the host triple, and
# `need_nightly TIER COMPONENTS`, which installs the components with rustup
# if it can and otherwise exits 2 with "TIER: unavailable here", so a tier
# never reports a pass it did not run. The first component listed is the
# one checked for.
toolchain=${HPYX_NIGHTLY:-nightly}
target=$(rustc -vV | sed -n 's/^host: //p')

need_nightly() {
    local tier=$1 components=$2
    if ! command -v rustup >/dev/null 2>&1; then
        echo "$tier: unavailable here (no rustup)" >&2
        exit 2
    fi
    if ! rustup component list --toolchain "$toolchain" --installed 2>/dev/null \
        | grep -q "^${components%%,*}"; then
        echo "$tier: installing the $toolchain toolchain with $components" >&2
        rustup toolchain install "$toolchain" --profile minimal --component "$components" >&2 \
            || { echo "$tier: unavailable here (rustup could not install $toolchain $components)" >&2; exit 2; }
    fi
}
