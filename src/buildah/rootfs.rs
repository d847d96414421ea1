//! Reading a file of a working container on a remote build host, resolved the way the
//! container would see it: the shell counterpart of [`crate::common::inroot`] (which reads
//! locally mounted roots), with the same rules: a symlink resolves relative to the container
//! root (an absolute target restarts at the root, `..` never climbs above it), and only a
//! regular file is read.

/// For `sh -c SCRIPT herodo-read CONTAINER PATH MAX` on the build host: mount the container, walk PATH with the same rules, print the regular file,
/// unmount. Values arrive as positional parameters, never inside the script text. Exit 44:
/// no such file; 45: not a regular file; 46: bigger than MAX bytes (nothing printed). At most
/// MAX + 1 bytes are ever printed, even of a file that grows meanwhile.
pub const REMOTE_READ_SCRIPT: &str = r#"set -u
m=$(buildah mount "$1") || exit 125
rest=$2 cur= n=0 rc=0
while [ -n "$rest" ]; do
  c=${rest%%/*}
  if [ "$c" = "$rest" ]; then rest=; else rest=${rest#*/}; fi
  case $c in
    ''|.) continue ;;
    ..) cur=${cur%/*}; continue ;;
  esac
  if [ -L "$m$cur/$c" ]; then
    n=$((n + 1))
    if [ "$n" -gt 40 ]; then echo "herodo: too many levels of symbolic links in $2" >&2; rc=40; break; fi
    t=$(readlink -- "$m$cur/$c") || { rc=1; break; }
    case $t in /*) cur= ;; esac
    if [ -n "$rest" ]; then rest=$t/$rest; else rest=$t; fi
  else
    cur=$cur/$c
  fi
done
if [ "$rc" -eq 0 ]; then
  f=$m$cur
  if [ ! -e "$f" ] && [ ! -L "$f" ]; then echo "herodo: file not found: $2" >&2; rc=44
  elif [ -L "$f" ] || [ ! -f "$f" ]; then echo "herodo: $2 is not a regular file" >&2; rc=45
  elif s=$(stat -c %s -- "$f" 2>/dev/null) && [ "$s" -gt "$3" ]; then
    echo "herodo: $2 is $s bytes, over the $3 bytes herodo reads from a container's files" >&2; rc=46
  else head -c "$(($3 + 1))" -- "$f"; rc=$?
  fi
fi
buildah umount "$1" >/dev/null
exit "$rc"
"#;
