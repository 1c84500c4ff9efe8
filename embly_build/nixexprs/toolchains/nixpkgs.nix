# The `nixpkgs` toolchain provider: every tool comes from a pinned nixpkgs, and Rust from the
# oxalica rust-overlay pinned the same way (pins.json), so the toolchain is the same on every
# machine. Needs network access the first time (fetchTarball and the binary cache).
#
# The result follows the `host` provider's layout: bin/ holds exactly the toolchain's tools
# and `setup` sets PATH to that bin/ only.
{ runtime ? "rust", system ? builtins.currentSystem }:
let
  pins = builtins.fromJSON (builtins.readFile ./pins.json);

  fetchPinned = pin: builtins.fetchTarball { inherit (pin) url sha256; };

  pkgs = import (fetchPinned pins.nixpkgs) {
    inherit system;
    config = { };
    overlays = [ (import (fetchPinned pins."rust-overlay")) ];
  };

  rust = pkgs.rust-bin.stable.${pins.rust.version}.minimal.override {
    targets = [ pins.rust.wasmTarget ];
  };

  # tool name -> file; rust-lld ships inside rustc's sysroot and is linked from there.
  tools = {
    rust = {
      bash = "${pkgs.bash}/bin/bash";
      env = "${pkgs.coreutils}/bin/env";
      cargo = "${rust}/bin/cargo";
      rustc = "${rust}/bin/rustc";
      cc = "${pkgs.gcc}/bin/cc";
      ld = "${pkgs.binutils}/bin/ld";
      as = "${pkgs.binutils}/bin/as";
      wasm-strip = "${pkgs.wabt}/bin/wasm-strip";
      wasm-opt = "${pkgs.binaryen}/bin/wasm-opt";
    };
  }.${runtime};

  links = pkgs.lib.concatStringsSep "\n"
    (pkgs.lib.mapAttrsToList (name: file: "ln -s ${file} $out/bin/${name}") tools);
in
pkgs.runCommand "embly-toolchain-${runtime}-nixpkgs" { } ''
  mkdir -p $out/bin
  ${links}
  for lld in ${rust}/lib/rustlib/*/bin/rust-lld; do
    ln -s "$lld" $out/bin/rust-lld
  done
  { printf '#!%s/bin/bash\n' "$out"; cat ${./rustc-wrapper.sh}; } > $out/bin/embly-rustc-wrapper
  chmod 555 $out/bin/embly-rustc-wrapper
  printf 'export PATH=%s/bin\n' "$out" > $out/setup
''
