# Source this to build or test by hand without make: the same cgo flags the Makefile sets.
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CGO_ENABLED=1
export CGO_CFLAGS="-I$_root/.deps/tf/tensorflow/include"
export CGO_LDFLAGS="-L$_root/.deps/lib -L$_root/.deps/tf/tensorflow -Wl,-rpath,\$ORIGIN/../.deps/tf/tensorflow -Wl,-rpath,$_root/.deps/tf/tensorflow"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
unset _root
