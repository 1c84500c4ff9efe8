# The `host` toolchain provider: wraps tools already installed on this machine into a
# store path whose bin/ holds exactly those tools (symlinks), plus a `setup` file that
# nix-shell sources to set PATH to that bin/ and nothing else.
#
# `toolsJson` is a JSON object {"tool-name": "/absolute/host/path", ...}; `identity` is
# text that changes whenever a tool changes (their `--version` output), so a new host
# toolchain gets a new store path and a new action key.
{ name, toolsJson, identity, system ? builtins.currentSystem }:
let
  tools = builtins.fromJSON toolsJson;
  names = builtins.attrNames tools;
in
derivation {
  inherit name system identity;
  builder = "/bin/sh";
  args = [ ./host-builder.sh ];
  rustcWrapper = ./rustc-wrapper.sh;
  PATH = "/usr/bin:/bin";
  toolNames = names;
  toolPaths = map (n: tools.${n}) names;
}
