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

# What a server takes from all its clients at once. A server's memory for requests is at
# most MAX_RECEIVING_BYTES, plus one HTTP/2 flow-control window (4 MiB, grpclib's default)
# for each of its MAX_CONNECTIONS connections: bytes a client may send before the server
# reads them. A client that follows the protocol meets none of these but the idle close,
# after which its channel connects again on its next call.

# Of request messages being received at once, across every call: a message waits for its
# share, in turn, before its body is read. A hundred of the largest messages a client
# sends (about 1.3 MiB); a few clients' uploads at full speed use a tenth of it.
MAX_RECEIVING_BYTES = 128 * MiB

# How long a message may wait for its share before it is refused (RESOURCE_EXHAUSTED):
# twice MESSAGE_ARRIVAL_SECONDS, so a message waits out every message ahead of it at least
# once.
RECEIVE_WAIT_SECONDS = 120.0

# How long a message's body may take to arrive once its share is granted: at least
# 70 KB/s for a message of MAX_REQUEST_BYTES. A client that sends part of a message and
# stalls holds its share, and the buffer of what it sent, no longer than this.
MESSAGE_ARRIVAL_SECONDS = 60.0

# How long an open call may go without the start of its next request message (its 5-byte
# prefix), the first one included: a client sends each message as it has it. Without it, a
# client could hold every connection the server takes with calls that never send anything
# (an open call keeps its connection from being idle).
NEXT_MESSAGE_SECONDS = 300.0

# Connections open at once, TLS handshakes under way included: beyond it a new connection
# is closed at once, before its TLS handshake (whose buffers cost 256 KiB). Many more than
# the clients a shared build server has: each client process holds one.
MAX_CONNECTIONS = 128

# Calls open at once on one connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); a client
# over it waits for a call to end (grpclib's client does). A client has a few uploads and
# lookups in flight at once.
MAX_STREAMS_PER_CONNECTION = 64

# A connection with no call open for this long is closed (HTTP/2 GOAWAY); a client's
# channel connects again on its next call. Long enough that `embly watch` keeps its
# connection between edits made in one sitting.
IDLE_CONNECTION_SECONDS = 300.0
