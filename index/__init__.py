"""The knowledge index: one Protocol (protocol.py), an embedded and an OpenSearch backend."""
