#!/usr/bin/env bash
# Install the AstrOmatic tools (and tmux/ssh used by the terminal tests) if they are missing.
# apt-get when root on Debian/Ubuntu, conda-forge when conda/mamba is there, otherwise print
# what to install. Exit 0 when the tools are there afterwards, 1 otherwise.
set -u
have_all() {
    command -v source-extractor >/dev/null 2>&1 || command -v sex >/dev/null 2>&1 || return 1
    command -v scamp >/dev/null 2>&1 || return 1
    command -v SWarp >/dev/null 2>&1 || { swarp -v 2>&1 | grep -q "SWarp version"; } || return 1
    command -v psfex >/dev/null 2>&1 || return 1
    return 0
}
need_extra() {
    command -v tmux >/dev/null 2>&1 || return 0
    [ -x /usr/sbin/sshd ] || return 0
    command -v ssh >/dev/null 2>&1 || return 0
    return 1
}
if have_all && ! need_extra; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing the AstrOmatic tools with apt-get (source-extractor scamp swarp psfex)..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq \
        source-extractor scamp swarp psfex tmux openssh-server openssh-client >/dev/null
elif command -v mamba >/dev/null 2>&1 || command -v conda >/dev/null 2>&1; then
    conda_cmd=$(command -v mamba || command -v conda)
    echo "Installing the AstrOmatic tools from conda-forge with $conda_cmd..."
    "$conda_cmd" install -y -q -c conda-forge astromatic-source-extractor astromatic-scamp \
        astromatic-swarp astromatic-psfex tmux
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
