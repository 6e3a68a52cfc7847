# benches/lib.sh: what the bench scripts share. Sourced, not run:
#   . "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# Needs SCRIPT (the script's name, for messages) set before sourcing.

die() { echo "$SCRIPT: error: $*" >&2; exit 1; }
log() { echo "$SCRIPT: $*" >&2; }

# A caller-supplied HUSK made absolute before the script changes directory, so that a
# relative path means the caller's working directory, as the caller would expect (a bare
# name is looked up in PATH). Unset, HUSK stays unset: the default is the script's to give.
resolve_husk() {
    [[ -n ${HUSK:-} ]] || return 0
    local given=$HUSK
    if [[ $given == */* ]]; then
        HUSK=$(realpath -e -- "$given" 2>/dev/null) || die "HUSK=$given does not exist"
    else
        HUSK=$(command -v -- "$given") || die "HUSK=$given not found in PATH"
    fi
}
