#!/bin/sh
# Cycle the sample frames thermal2.jpg, thermal3.jpg, thermal4.jpg (beside this script)
# into the image the daemon's `file` source watches, one every SECONDS.
#
# Each copy is atomic: the frame is first copied to a temporary file in the target's own
# folder and then renamed over the target with `mv`, so a reader never sees half a file.
# Needs no root. Stop it with Ctrl-C; the temporary file is removed on exit.

set -eu

FRAMES="thermal2.jpg thermal3.jpg thermal4.jpg"

usage() {
    cat <<USAGE
Usage: $(basename "$0") [-o PATH] [SECONDS]

Copy $FRAMES (from the script's folder)
into the watched image, one after the other, every SECONDS (default 1; fractions
such as 0.2 work where sleep(1) accepts them).

  -o PATH   the image to write (default: thermal.jpg beside this script)
  -h        show this help and exit
USAGE
}

die() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

script_dir=$(cd "$(dirname "$0")" && pwd)
target="$script_dir/thermal.jpg"

while getopts "ho:" option; do
    case $option in
        h) usage; exit 0 ;;
        o) target=$OPTARG ;;
        *) usage >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || { usage >&2; exit 2; }
interval=${1:-1}

case $interval in
    "" | *[!0-9.]* | *.*.* | .) die "SECONDS must be a positive number, got '$interval'" ;;
esac
[ "$(echo "$interval" | tr -d '0.')" != "" ] || die "SECONDS must be more than 0, got '$interval'"

for frame in $FRAMES; do
    [ -r "$script_dir/$frame" ] || die "missing sample frame $script_dir/$frame"
done

[ ! -d "$target" ] || die "$target is a folder; -o needs the path of the image file"
target_dir=$(dirname "$target")
[ -d "$target_dir" ] || die "folder $target_dir does not exist"
[ -w "$target_dir" ] || die "cannot write to folder $target_dir"
tmp="$target_dir/.$(basename "$target").$$.tmp"

sleep_pid=""
cleanup() {
    rm -f "$tmp"
    [ -z "$sleep_pid" ] || kill "$sleep_pid" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

echo "$(basename "$0"): writing $FRAMES to $target every $interval s (Ctrl-C stops)" >&2

while :; do
    for frame in $FRAMES; do
        # Create the temporary file exclusively (noclobber = O_EXCL), fill it, rename it.
        (set -C; : >"$tmp") 2>/dev/null || die "cannot create $tmp (does it exist already?)"
        cp "$script_dir/$frame" "$tmp"
        mv -f "$tmp" "$target"
        sleep "$interval" &
        sleep_pid=$!
        wait "$sleep_pid" || true  # `wait` returns at once when a signal arrives
        sleep_pid=""
    done
done
