#!/usr/bin/env bash
# Re-creates the files of this directory from the npm registry: GraphiQL's self-contained
# UMD build and the React 18 UMD builds it runs on (React 19 ships no UMD). npm checks each
# tarball against the registry's sha512 integrity; SHA256SUMS pins what we serve, and
# `cargo test` checks the embedded files against it (tests/api/clients.rs).
# The `//# sourceMappingURL=` trailer is dropped (the maps are not shipped, so a browser's
# developer tools would only get 404s). Usage: playground/vendor/fetch.sh
set -euo pipefail
cd "$(dirname "$0")"
GRAPHIQL=3.8.3
REACT=18.3.1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" >/dev/null)
for p in "graphiql-$GRAPHIQL" "react-$REACT" "react-dom-$REACT"; do
  mkdir -p "$work/$p" && tar xzf "$work/$p.tgz" -C "$work/$p"
done
strip() { sed '/^\/\/# sourceMappingURL=/d; s#/\*\# sourceMappingURL=[^*]*\*/##' "$1" > "$2"; }
strip "$work/graphiql-$GRAPHIQL/package/graphiql.min.js" graphiql.min.js
strip "$work/graphiql-$GRAPHIQL/package/graphiql.min.css" graphiql.min.css
cp "$work/react-$REACT/package/umd/react.production.min.js" react.production.min.js
cp "$work/react-dom-$REACT/package/umd/react-dom.production.min.js" react-dom.production.min.js
{
  printf 'graphiql %s (https://github.com/graphql/graphiql), MIT:\n\n' "$GRAPHIQL"
  cat "$work/graphiql-$GRAPHIQL/package/LICENSE"
  printf '\n\nreact and react-dom %s (https://github.com/facebook/react), MIT:\n\n' "$REACT"
  cat "$work/react-$REACT/package/LICENSE"
} > LICENSE
sha256sum graphiql.min.js graphiql.min.css react.production.min.js react-dom.production.min.js > SHA256SUMS
