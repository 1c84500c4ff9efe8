# RUSTC_WRAPPER for cargo (installed as bin/embly-rustc-wrapper, run by the toolchain's
# bash): runs `rustc ARGS...` plus a --remap-path-prefix for each of EMBLY_REMAP_SOURCE,
# EMBLY_REMAP_TARGET and EMBLY_REMAP_CARGO_HOME ("FROM=TO"). Given here rather than in
# RUSTFLAGS, the build space's location stays out of cargo's metadata hash, so it never
# changes symbol names, data layout, or the bytes of the .wasm.
rustc=$1
shift
remaps=()
for mapping in "${EMBLY_REMAP_SOURCE:-}" "${EMBLY_REMAP_TARGET:-}" "${EMBLY_REMAP_CARGO_HOME:-}"; do
  if [ -n "$mapping" ]; then
    remaps+=("--remap-path-prefix=$mapping")
  fi
done
exec "$rustc" "$@" "${remaps[@]}"
