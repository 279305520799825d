#!/usr/bin/env bash
# Regenerates schemas/payments.v1.binpb, the Protobuf image `buf breaking` (ctest
# buf_breaking) compares the protos against. Policy: schemas/README.md.
#
# Usage: scripts/update-schema-baseline.sh [--allow-breaking]
#
# Without a flag it refuses when the protos break the current baseline: a baseline update
# records additive changes, it must never hide a breaking one. --allow-breaking is for the
# cases schemas/README.md allows (nothing has been released on the current baseline yet).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
buf="$root/node_modules/.bin/buf"
baseline="schemas/payments.v1.binpb"

if [ ! -x "$buf" ]; then
  echo "buf not found at $buf: run scripts/deps.sh (or npm ci)" >&2
  exit 1
fi

"$buf" lint
if [ -f "$baseline" ] && [ "${1:-}" != "--allow-breaking" ]; then
  if ! "$buf" breaking --against "$baseline"; then
    echo "refusing to update $baseline: the changes above break v1 (see schemas/README.md)." >&2
    echo "Add a v2 package instead, or pass --allow-breaking if nothing was released yet." >&2
    exit 1
  fi
fi
"$buf" build -o "$baseline"
echo "wrote $baseline; commit it together with the .proto changes"
