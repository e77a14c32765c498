"""Protobuf modules generated from proto/ (see python/tools/gen_proto.py)."""
