# The environment every build step runs in: `nix-shell --pure shell.nix --argstr
# toolchain /nix/store/...`. nix-shell unsets PATH and sources `$stdenv/setup`, so with the
# toolchain as `stdenv` only the toolchain's bin/ is on PATH.
{ toolchain }:
derivation {
  name = "embly-build-shell";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  stdenv = builtins.storePath toolchain;
}
