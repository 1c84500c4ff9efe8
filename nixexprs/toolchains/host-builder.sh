# Runs under /bin/sh inside nix-build: link each host tool into $out/bin.
set -eu
mkdir -p "$out/bin"
set -- $toolPaths
for name in $toolNames; do
  ln -s "$1" "$out/bin/$name"
  shift
done
{ printf '#!%s/bin/bash\n' "$out"; cat "$rustcWrapper"; } > "$out/bin/embly-rustc-wrapper"
chmod 555 "$out/bin/embly-rustc-wrapper"
printf 'export PATH=%s/bin\n' "$out" > "$out/setup"
printf '%s\n' "$identity" > "$out/identity"
