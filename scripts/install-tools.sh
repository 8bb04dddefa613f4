#!/usr/bin/env bash
# Install the AstrOmatic tools if they are missing (what `make demo` needs); with --test-extras,
# also tmux, an SSH server/client and Chromium, which only the terminal and report tests use (what `make test` needs).
# apt-get when root on Debian/Ubuntu, conda-forge when conda/mamba is there, otherwise print
# what to install. Exit 0 when the tools are there afterwards, 1 otherwise (missing test extras
# only print a note: the tests that need them are skipped).
set -u
extras=0
for arg in "$@"; do
    case "$arg" in
        --test-extras) extras=1 ;;
        -h|--help)
            echo "usage: $0 [--test-extras]   (install the AstrOmatic tools; --test-extras: also tmux, openssh)"
            exit 0 ;;
        *) echo "$0: unknown option $arg (try --help)" >&2; exit 2 ;;
    esac
done
have_all() {
    command -v source-extractor >/dev/null 2>&1 || command -v sex >/dev/null 2>&1 || return 1
    command -v scamp >/dev/null 2>&1 || return 1
    command -v SWarp >/dev/null 2>&1 || { swarp -v 2>&1 | grep -q "SWarp version"; } || return 1
    command -v psfex >/dev/null 2>&1 || return 1
    return 0
}
need_extra() {
    [ "$extras" = 1 ] || return 1
    command -v tmux >/dev/null 2>&1 || return 0
    [ -x /usr/sbin/sshd ] || return 0
    command -v ssh >/dev/null 2>&1 || return 0
    command -v chromium >/dev/null 2>&1 || return 0
    return 1
}
need_tools=0
have_all || need_tools=1
need_extras=0
need_extra && need_extras=1
if [ "$need_tools" = 0 ] && [ "$need_extras" = 0 ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    packages=()
    [ "$need_tools" = 1 ] && packages+=(source-extractor scamp swarp psfex)
    [ "$need_extras" = 1 ] && packages+=(tmux openssh-server openssh-client chromium)
    echo "Installing with apt-get: ${packages[*]}..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq "${packages[@]}" >/dev/null
elif command -v mamba >/dev/null 2>&1 || command -v conda >/dev/null 2>&1; then
    conda_cmd=$(command -v mamba || command -v conda)
    packages=()
    [ "$need_tools" = 1 ] && packages+=(astromatic-source-extractor astromatic-scamp
                                        astromatic-swarp astromatic-psfex)
    [ "$need_extras" = 1 ] && packages+=(tmux)
    echo "Installing from conda-forge with $conda_cmd: ${packages[*]}..."
    "$conda_cmd" install -y -q -c conda-forge "${packages[@]}"
fi
if [ "$extras" = 1 ] && need_extra; then
    echo "Note: tmux, an SSH server/client or Chromium is still missing; the terminal and" \
         "report tests that need them will be skipped." >&2
fi
if have_all; then
    exit 0
fi
cat >&2 <<'MSG'
The AstrOmatic tools are missing and could not be installed automatically.
Install them, then run this command again:
  Debian/Ubuntu (as root):  apt-get install source-extractor scamp swarp psfex
  conda:                    conda install -c conda-forge astromatic-source-extractor \
                                astromatic-scamp astromatic-swarp astromatic-psfex
  or build them from https://github.com/astromatic and put them on PATH
  (or name them in [build_paths] of your project).
`aw-tui doctor` shows what was found where.
MSG
exit 1
