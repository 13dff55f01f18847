#!/usr/bin/env python3
"""Write a one-layer OCI image archive FROM scratch, without a container engine or registry.

    oci.py OUT.tar NAME:TAG --file SRC=DST [--file ...] [--entrypoint JSON] [--cmd JSON]
           [--user U] [--expose PORT/tcp] [--label K=V ...]

`ctr images import` (containerd) and `podman load` take the result. Files keep their mode and
are owned by 0:0; every timestamp is 0, so the same inputs give the same image digest. The layer
is gzip-compressed, as a registry stores and serves it.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import tarfile


def tar_info(name, **fields):
    info = tarfile.TarInfo(name)
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = 0
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def layer_of(files):
    """An uncompressed layer tar holding each SRC at DST (with its parent directories)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as layer:
        made = set()
        for src, dst in files:
            parts = dst.strip("/").split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in made:
                    made.add(d)
                    layer.addfile(tar_info(d, type=tarfile.DIRTYPE, mode=0o755))
            with open(src, "rb") as f:
                data = f.read()
            mode = os.stat(src).st_mode & 0o7777
            layer.addfile(tar_info(dst.strip("/"), size=len(data), mode=mode), io.BytesIO(data))
    return buf.getvalue()


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("ref", help="NAME:TAG")
    ap.add_argument("--file", action="append", required=True, help="SRC=DST")
    ap.add_argument("--entrypoint", default="null", help="JSON list")
    ap.add_argument("--cmd", default="null", help="JSON list")
    ap.add_argument("--user", default="")
    ap.add_argument("--expose", action="append", default=[])
    ap.add_argument("--label", action="append", default=[], help="KEY=VALUE")
    args = ap.parse_args()
    if ":" not in args.ref.rsplit("/", 1)[-1]:
        ap.error(f"{args.ref}: need NAME:TAG")
    files = [f.split("=", 1) for f in args.file]
    if any(len(f) != 2 for f in files):
        ap.error("--file takes SRC=DST")

    layer = layer_of(files)
    compressed = gzip.compress(layer, compresslevel=6, mtime=0)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": json.loads(args.entrypoint),
            "Cmd": json.loads(args.cmd),
            "User": args.user,
            "Env": ["PATH=/"],
            "ExposedPorts": {p: {} for p in args.expose},
            "Labels": dict(label.split("=", 1) for label in args.label),
        },
        "rootfs": {"type": "layers", "diff_ids": [digest(layer)]},
        "history": [{"created_by": "hack/image/oci.py"}],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest(config_bytes), "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digest(compressed), "size": len(compressed)}],
    }, sort_keys=True).encode()
    index = json.dumps({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest(manifest), "size": len(manifest),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"io.containerd.image.name": args.ref,
                            "org.opencontainers.image.ref.name": args.ref.rsplit(":", 1)[1]},
        }],
    }, sort_keys=True).encode()

    tmp = args.out + ".tmp"
    with tarfile.open(tmp, "w") as out:
        def add(name, data):
            out.addfile(tar_info(name, size=len(data), mode=0o644), io.BytesIO(data))
        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", index)
        for blob in (compressed, config_bytes, manifest):
            add("blobs/sha256/" + digest(blob)[7:], blob)
    os.replace(tmp, args.out)
    print(f"{args.out}: {args.ref} {digest(manifest)} layer {len(compressed)} bytes "
          f"({len(layer)} uncompressed)")


if __name__ == "__main__":
    main()
