"""Generate the Python code for proto/ (committed under ecoute/); a test checks it is current."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"


def generate(out_dir: Path) -> list[Path]:
    """Run protoc (from grpcio-tools) over every .proto into out_dir; return the files made."""
    import grpc_tools
    from grpc_tools import protoc

    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    include = str(Path(grpc_tools.__file__).parent / "_proto")
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    # Only what protoc made from these protos: a walk over out_dir (the repository root by
    # default) would also find the virtual environment's own *_pb2 modules.
    made = sorted(
        out_dir / f"{proto.removesuffix('.proto')}{suffix}"
        for proto in protos
        for suffix in ("_pb2.py", "_pb2.pyi")
    )
    for package in {p.parent for p in made}:
        walk = package
        while walk != out_dir:
            (walk / "__init__.py").touch()
            walk = walk.parent
    return made


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT
    for path in generate(out):
        print(path.relative_to(out))
