#!/usr/bin/env bash
# proto.sh lints and generates the protobuf code of proto/ with pinned tools.
#
#   scripts/proto.sh          buf lint, then buf generate into the tree
#   scripts/proto.sh check    buf lint, buf breaking (when there is a
#                             baseline), then generate into a temporary
#                             directory and fail when the committed *.pb.go
#                             files differ from it
#
# buf, protoc-gen-go and protoc-gen-go-grpc are installed into .tools/bin
# (git-ignored) when missing or of another version; .tools/bin comes first on
# PATH, so buf runs the pinned local plugins. No remote plugins: nothing but
# the Go module proxy is needed.
#
# buf breaking compares against $PROTO_BREAKING_AGAINST, a buf input whose
# relative path is taken from the repository root (CI sets it to the target
# branch, e.g. ".git#branch=main,subdir=proto"); without it, against HEAD
# when HEAD has proto/buf.yaml (catching uncommitted breaking changes);
# otherwise it is skipped with a note.
set -euo pipefail

BUF_VERSION=v1.75.0
PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="$root/.tools/bin"
export PATH="$tools:$PATH"

die() {
	echo "proto: $*" >&2
	exit 1
}

# install NAME PACKAGE VERSION WANT installs PACKAGE@VERSION into .tools/bin
# unless .tools/bin/NAME exists and its --version prints WANT.
install() {
	local name=$1 pkg=$2 version=$3 want=$4
	if [[ -x "$tools/$name" ]] && [[ "$("$tools/$name" --version 2>/dev/null)" == "$want" ]]; then
		return
	fi
	echo "proto: installing $pkg@$version into .tools/bin" >&2
	GOBIN="$tools" go install "$pkg@$version" || die "cannot install $pkg@$version"
	[[ "$("$tools/$name" --version 2>/dev/null)" == "$want" ]] ||
		die "$tools/$name --version does not print $want after install"
}

install buf github.com/bufbuild/buf/cmd/buf "$BUF_VERSION" "${BUF_VERSION#v}"
install protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION" "protoc-gen-go $PROTOC_GEN_GO_VERSION"
install protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION" "protoc-gen-go-grpc ${PROTOC_GEN_GO_GRPC_VERSION#v}"
for plugin in protoc-gen-go protoc-gen-go-grpc; do
	[[ "$(command -v "$plugin")" == "$tools/$plugin" ]] ||
		die "$plugin resolves to $(command -v "$plugin"), not $tools/$plugin"
done

cd "$root/proto"

mode=${1:-generate}
case "$mode" in
generate)
	buf lint || die "buf lint failed"
	buf generate || die "buf generate failed"
	echo "proto: generated code is up to date in proto/" >&2
	;;
check)
	buf lint || die "buf lint failed"

	against=${PROTO_BREAKING_AGAINST:-}
	case "$against" in
	"" | /* | *://*) ;;
	*) against="$root/$against" ;; # relative to the repository root, not proto/
	esac
	if [[ -z "$against" ]] && git -C "$root" cat-file -e HEAD:proto/buf.yaml 2>/dev/null; then
		against="$root/.git#ref=HEAD,subdir=proto"
	fi
	if [[ -n "$against" ]]; then
		buf breaking --against "$against" || die "buf breaking: proto/ breaks compatibility with $against"
		echo "proto: buf breaking: compatible with $against" >&2
	else
		echo "proto: buf breaking skipped: HEAD has no proto/buf.yaml (set PROTO_BREAKING_AGAINST)" >&2
	fi

	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	mkdir -p "$tmp/generated" "$tmp/committed"
	buf generate --output "$tmp/generated" || die "buf generate failed"
	while IFS= read -r -d '' f; do
		mkdir -p "$tmp/committed/$(dirname "$f")"
		cp "$f" "$tmp/committed/$f"
	done < <(find . -name '*.pb.go' -print0)
	if ! (cd "$tmp" && diff -ru committed generated) >"$tmp/diff"; then
		head -n 100 "$tmp/diff" >&2
		die "committed generated code under proto/ differs from a fresh 'buf generate' (diff above: committed vs generated; a file only on one side is missing or stale): run 'bash scripts/proto.sh' and commit the result"
	fi
	echo "proto: committed generated code matches a fresh generation" >&2
	;;
*)
	die "usage: scripts/proto.sh [check]"
	;;
esac
