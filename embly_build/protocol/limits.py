"""The most a server takes in one request: every limit a client can reach, in one place.

Each is chosen from what the protocol itself needs, with room to spare, so a client that
follows the protocol never meets one, and a hostile or broken one cannot make the server
buffer, decode or check more than this much for one call. The protocol's own bounds (a
chunk's data, a batch's blobs and bytes) are in digests.py and blob_batches.py.
"""

from __future__ import annotations

MiB = 1024 * 1024

# Of one request message, refused from its length prefix, before its bytes are read. The
# largest a client sends: an UploadBlobBatch (1 MiB of data and 4096 digests, about
# 1.3 MiB) or a lookup of MAX_DIGESTS_PER_LOOKUP digests (about 0.8 MiB). gRPC's default.
MAX_REQUEST_BYTES = 4 * MiB

# Digests in one FindMissingBlobs; the client asks about more in several.
MAX_DIGESTS_PER_LOOKUP = 10_000

# Entries of any repeated field in one request: bounds the work of decoding one (a
# message of empty entries takes two bytes an entry).
MAX_ENTRIES_PER_FIELD = 10_000

# Files of a tree sent inside a BuildRequest; a larger tree is sent by digest, as a blob.
MAX_INLINE_TREE_FILES = MAX_ENTRIES_PER_FIELD

# Files in one input tree, and bytes of its canonical encoding: five times a function of
# 40,000 files (about 4.4 MB), with long paths.
MAX_TREE_FILES = 200_000
MAX_TREE_BYTES = 64 * MiB
