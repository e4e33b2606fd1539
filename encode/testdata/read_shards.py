"""Reads encode shards with pyarrow and prints, as JSON, every row's id,
label, split and the sha256 of its pixels, plus each shard's key-value
metadata. Used by encode's interoperability test."""
import hashlib
import json
import sys

import pyarrow.parquet as pq


def main(files):
    rows, meta, types = [], [], {}
    for path in files:
        f = pq.ParquetFile(path)
        kv = {k.decode(): v.decode() for k, v in (f.metadata.metadata or {}).items()}
        meta.append({k: kv.get(k) for k in ("genres", "vocabulary", "height", "width")})
        t = f.read()
        types = {name: str(t.schema.field(name).type) for name in ("label", "genres", "pixels")}
        for r in t.to_pylist():
            rows.append({
                "imdb_id": r["imdb_id"],
                "label": r["label"],
                "split": r["split"],
                "genres": r["genres"],
                "pixels_sha256": hashlib.sha256(r["pixels"]).hexdigest(),
                "pixels_len": len(r["pixels"]),
            })
    print(json.dumps({"rows": rows, "meta": meta, "types": types}))


if __name__ == "__main__":
    main(sys.argv[1:])
