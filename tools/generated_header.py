"""Reads `cargo build --message-format=json` on stdin and prints the path of
the header that vais_alloc's build script generated into its OUT_DIR."""
import json
import os
import sys

out_dir = None
for line in sys.stdin:
    try:
        message = json.loads(line)
    except ValueError:
        continue
    package = message.get("package_id", "")
    # package ids look like "path+file:///...#vais_alloc@0.1.0"
    if message.get("reason") == "build-script-executed" and "#vais_alloc@" in package:
        out_dir = message["out_dir"]
if not out_dir:
    sys.exit("generated_header.py: no build-script output for vais_alloc")
print(os.path.join(out_dir, "vais_alloc.h"))
