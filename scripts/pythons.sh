# Sourced by the scripts that work per interpreter (setup.sh, wheels.sh,
# test.sh): which CPythons hpyx is tested on, and each one's venv.
#
#   3.11   .venv        the machine's CPython (also has the docs tools)
#   3.12   .venv-312    GIL build, from PATH or pyenv
#   3.13   .venv-313    GIL build, from PATH or pyenv
#   3.13t  .venv-313t   free-threaded, built by scripts/ensure-python313t.sh
#
# HPYX_PYTHONS (space-separated) narrows the list.

HPYX_ALL_PYTHONS="3.11 3.12 3.13 3.13t"
pythons=${HPYX_PYTHONS:-$HPYX_ALL_PYTHONS}

# The venv of interpreter $1.
venv_of() {
    case $1 in
        3.11) echo .venv ;;
        3.12 | 3.13 | 3.13t) echo ".venv-${1/./}" ;;
        *)
            echo "unknown interpreter $1 (choose from $HPYX_ALL_PYTHONS)" >&2
            return 2
            ;;
    esac
}
