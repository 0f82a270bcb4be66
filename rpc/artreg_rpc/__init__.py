"""artreg's JSON-RPC 2.0 sidecar over WebSocket."""
