#!/usr/bin/env python3
"""Generates the C++ of etcd's v3 gRPC API at build time (lib/etcd/meson.build).

Usage: gen_etcd_proto.py ETCD_SRC_DIR PROTOC GRPC_CPP_PLUGIN OUT_DIR

ETCD_SRC_DIR is etcd's source tree as Debian's golang-etcd-server-dev ships it
(/usr/share/gocode/src/go.etcd.io/etcd). Its rpc.proto, kv.proto and auth.proto import gogoproto
and google.api annotations, which only tune Go code and the HTTP gateway: they are stripped here.
The imports are flattened ("etcd/mvcc/mvccpb/kv.proto" -> "kv.proto") so that every output lands
in OUT_DIR itself: kv.pb.{h,cc}, auth.pb.{h,cc}, rpc.pb.{h,cc}, rpc.grpc.pb.{h,cc}. The protobuf
packages (mvccpb, authpb, etcdserverpb) and so the C++ namespaces are unchanged.
"""
import os
import re
import subprocess
import sys
import tempfile

# (file in the etcd tree, flat name)
PROTOS = [
    ("mvcc/mvccpb/kv.proto", "kv.proto"),
    ("auth/authpb/auth.proto", "auth.proto"),
    ("etcdserver/etcdserverpb/rpc.proto", "rpc.proto"),
]
FLAT_IMPORTS = {"etcd/mvcc/mvccpb/kv.proto": "kv.proto", "etcd/auth/authpb/auth.proto": "auth.proto"}


def strip(text):
    text = re.sub(r'import "gogoproto/gogo\.proto";\n', "", text)
    text = re.sub(r'import "google/api/annotations\.proto";\n', "", text)
    text = re.sub(r"^option \(gogoproto[^\n]*\n", "", text, flags=re.M)
    text = re.sub(r"\s*\[\(gogoproto[^\]]*\]", "", text)
    text = re.sub(r"option \(google\.api\.http\) = \{.*?\};", "", text, flags=re.S)
    for long_name, flat in FLAT_IMPORTS.items():
        text = text.replace('import "%s";' % long_name, 'import "%s";' % flat)
    if "gogoproto" in text or "google.api" in text:
        raise SystemExit("gen_etcd_proto: an annotation was left after stripping; etcd's .proto changed")
    return text


def main():
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    src, protoc, plugin, out = sys.argv[1:]
    with tempfile.TemporaryDirectory(prefix="rustun-etcd-proto.") as tmp:
        for rel, flat in PROTOS:
            path = os.path.join(src, rel)
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except OSError as e:
                raise SystemExit("gen_etcd_proto: cannot read %s: %s (package golang-etcd-server-dev)" % (path, e))
            with open(os.path.join(tmp, flat), "w", encoding="utf-8") as f:
                f.write(strip(text))
        names = [flat for _, flat in PROTOS]
        subprocess.run([protoc, "-I", tmp, "--cpp_out=" + out] + names, check=True)
        subprocess.run([protoc, "-I", tmp, "--grpc_out=" + out,
                        "--plugin=protoc-gen-grpc=" + plugin, "rpc.proto"], check=True)


if __name__ == "__main__":
    main()
